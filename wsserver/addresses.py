"""
Client addresses as every per-address limit judges them: an IPv4 address on
its own, an IPv6 address by its /64. A provider hands each customer a whole /64,
so judging IPv6 addresses one by one would give one client a fresh budget for
every address it picks. The app's throttles and the server's connection cap use
this one rule.
"""

import ipaddress


def address_group(address: str) -> str:
    """The group `address` counts in: itself (IPv4, or anything unparsable), its
    IPv4 address if it is one mapped into IPv6, else its /64 network."""
    try:
        parsed = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return address
    if parsed.version == 4:
        return address
    if parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
