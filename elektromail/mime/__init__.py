"""Parse a raw message once, at delivery, and read what was parsed: pure code, no reactor.

`parse` (parse.py) builds the records of model.py; sections.py finds FETCH's byte ranges in them,
decode.py turns header text and bodies into readable text, serial.py stores them as JSON.
"""

from elektromail.mime.addresses import parse_addresses, write_addresses
from elektromail.mime.decode import decode_body, decode_header, decoded_addresses, param_value
from elektromail.mime.model import Address, BodyPart, Envelope, ParsedMessage
from elektromail.mime.parse import MAX_DEPTH, parse
from elektromail.mime.sections import filter_header_fields, section_part, section_range
from elektromail.mime.serial import envelope_from_json, from_json, to_json

__all__ = [
    "MAX_DEPTH",
    "Address",
    "BodyPart",
    "Envelope",
    "ParsedMessage",
    "decode_body",
    "decode_header",
    "decoded_addresses",
    "envelope_from_json",
    "filter_header_fields",
    "from_json",
    "param_value",
    "parse",
    "parse_addresses",
    "section_part",
    "section_range",
    "to_json",
    "write_addresses",
]
