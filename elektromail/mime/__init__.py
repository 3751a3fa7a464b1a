"""Parse a raw message once, at delivery, and read what was parsed: pure code, no reactor.

`parse` (parse.py) builds the records of model.py; sections.py finds FETCH's byte ranges in them,
decode.py turns header text and bodies into readable text, serial.py stores them as JSON, binary.py
does RFC 3516's conversions (literal8 APPEND, FETCH BINARY).
"""

from elektromail.mime.addresses import parse_addresses, write_addresses
from elektromail.mime.binary import UnknownEncoding, binary_section, encode_binary_parts, is_leaf
from elektromail.mime.decode import decode_body, decode_header, decoded_addresses, param_value
from elektromail.mime.model import Address, BodyPart, Envelope, ParsedMessage
from elektromail.mime.parse import MAX_DEPTH, header_end, parse, parse_envelope
from elektromail.mime.sections import (
    filter_header_fields,
    section_part,
    section_range,
    top_level_range,
)
from elektromail.mime.serial import envelope_from_json, from_json, to_json

__all__ = [
    "MAX_DEPTH",
    "Address",
    "BodyPart",
    "Envelope",
    "ParsedMessage",
    "UnknownEncoding",
    "binary_section",
    "decode_body",
    "decode_header",
    "decoded_addresses",
    "encode_binary_parts",
    "envelope_from_json",
    "filter_header_fields",
    "from_json",
    "header_end",
    "is_leaf",
    "param_value",
    "parse",
    "parse_addresses",
    "parse_envelope",
    "section_part",
    "section_range",
    "to_json",
    "top_level_range",
    "write_addresses",
]
