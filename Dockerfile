# elektromail: SMTP 2525, IMAP 1143, POP3 1110 and the HTTP control API 8080, all on every interface.
#   docker build -t elektromail .
#   docker run --rm -p 2525:2525 -p 1143:1143 -p 1110:1110 -p 8080:8080 elektromail
# Every setting is an environment variable (README, "Configuration"), e.g. -e ELEKTROMAIL_USERS=a:b.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml setup.cfg README.md LICENSE ./
COPY elektromail ./elektromail
COPY twisted ./twisted

# Install from the source tree, with psycopg for `--db postgresql://` (contrib/docker-compose.yml),
# then write Twisted's plugin cache (dropin.cache) while the site-packages are still writable:
# the non-root user could not, and would rescan every start.
RUN pip install --no-cache-dir './[postgresql]' \
    && python -c "from twisted.plugin import IPlugin, getPlugins; list(getPlugins(IPlugin))" \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/elektromail --create-home elektromail

# Reachable from outside the container (the server's own default is 127.0.0.1), and the HTTP
# control API on, as in Mailpit: a port is reachable only where `docker run -p` maps it.
ENV BIND_ADDR=0.0.0.0 \
    SMTP_PORT=2525 \
    IMAP_PORT=1143 \
    POP3_PORT=1110 \
    HTTP_PORT=8080

USER 10001:10001
WORKDIR /var/lib/elektromail
EXPOSE 2525 1143 1110 8080

# No curl in the image: Python asks /healthz (open even with ELEKTROMAIL_HTTP_TOKEN set), or
# connects to SMTP when HTTP_PORT=off.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["python", "-c", "import os, socket, urllib.request as u; e = os.environ.get; a = e('BIND_ADDR', '0.0.0.0'); h = '127.0.0.1' if a in ('0.0.0.0', '::') else a; p = e('HTTP_PORT', '8080').strip().lower(); socket.create_connection((h, int(e('SMTP_PORT', '2525'))), 2).close() if p in ('', 'off') else u.urlopen(f'http://{h}:{p}/healthz', timeout=2)"]

# No pid file: a stale one would stop a restarted container from starting.
CMD ["twistd", "--nodaemon", "--pidfile=", "elektromail"]
