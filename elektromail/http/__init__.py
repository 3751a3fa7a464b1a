"""The HTTP control plane: a JSON API on Klein for test suites (see app.py), with its OpenAPI
document and Swagger UI (openapi.py, docs.py). Row 3: never imports imap/ or smtp/."""
