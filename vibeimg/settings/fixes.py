"""The fix for a key or a base URL the gateway refused or that cannot be reached, told
in the place its value came from (``Settings.origins``): the flag, a variable, the
config file, an ``OPENAI_*`` fallback that may belong to another service, the default.
"""

from __future__ import annotations

from vibeimg.settings.folders import config_path

#: How to set the base URL from any place; said when the default is the one in force.
SET_BASE_URL = "--base-url, VIBEIMG_BASE_URL or 'vibeimg config set base-url URL'"


def key_fix(origin: str | None) -> str:
    """How to fix a key the gateway refused, in the place it came from."""
    if origin == "flag":
        return "check the key given with --api-key"
    if origin == "config file":
        return (f"check the key in the config file {config_path()}; "
                "'vibeimg config set api-key' replaces it")
    if origin == "env OPENAI_API_KEY":
        return ("the key came from OPENAI_API_KEY, which may belong to another service; "
                "give this gateway's key with 'vibeimg config set api-key' or VIBEIMG_API_KEY")
    if origin is not None and origin.startswith("env "):
        return f"check the key in {origin[4:]}"
    return "check the key in VIBEIMG_API_KEY or --api-key"


def base_url_fix(origin: str | None) -> str:
    """How to fix a base URL that cannot be reached, in the place it came from."""
    if origin == "flag":
        where = "--base-url"
    elif origin == "config file":
        where = (f"base-url in the config file {config_path()} ('vibeimg config set "
                 "base-url URL' replaces it)")
    elif origin == "env OPENAI_BASE_URL":
        return ("check the network; the base URL came from OPENAI_BASE_URL, which may belong "
                "to another service: give this gateway's with 'vibeimg config set base-url "
                "URL' or VIBEIMG_BASE_URL, or use --offline")
    elif origin is not None and origin.startswith("env "):
        where = origin[4:]
    elif origin == "default":
        return (f"check the network; the base URL is vibeimg's default: set another with "
                f"{SET_BASE_URL}, or use --offline")
    else:
        where = "the base URL"
    return f"check the network and {where}, or use --offline"
