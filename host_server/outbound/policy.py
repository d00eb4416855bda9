"""Where the meta server may connect when it fetches what an owner names (a source being checked,
a file server being probed): public addresses only, unless the operator allows a network.

Owners are strangers: without this, a registration could make the meta server fetch from itself,
from other loopback or private services, or from a cloud's link-local metadata address. Every
address a host name resolves to is checked, at every hop of a redirect, and the connection goes
to the addresses that were checked (so a name cannot resolve to another address between the
check and the connection). IPv4 carried inside IPv6 (mapped, compatible, 6to4, Teredo, NAT64)
is checked as the IPv4 address it carries.

An owner's https server is trusted as a browser would trust it (the system's CAs), or by a CA
the operator names (settings.source_ca_file): every connection the policy makes, registration
checks and health probes alike, verifies certificates with that one TLS context.
"""

import ipaddress
import os
import ssl

import aiohttp

NAT64 = ipaddress.ip_network("64:ff9b::/96")
COMPATIBLE = ipaddress.ip_network("::/96")


class SourceRefused(OSError):
    """The address is not one the meta server may fetch from; str() says which kind it is."""


def _carried(ip):
    """ip, and the IPv4 addresses an IPv6 address carries."""
    yield ip
    if ip.version == 6:
        if ip.ipv4_mapped:
            yield ip.ipv4_mapped
        if ip.sixtofour:
            yield ip.sixtofour
        if ip.teredo:
            yield from ip.teredo
        if ip in NAT64 or (ip in COMPATIBLE and int(ip) > 1):
            yield ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)


def _kind(ip):
    """Why ip is not a public unicast address, or None when it is."""
    for name in ("loopback", "unspecified", "link_local", "multicast", "private", "reserved"):
        if getattr(ip, "is_" + name):
            return name.replace("_", "-")
    if not ip.is_global:
        return "not globally routable"
    return None


def tls_context(ca_file):
    """The TLS context that verifies owners' servers: the system's CAs and those of ca_file
    (None: the system's alone, aiohttp's default); ValueError says what is wrong with the file."""
    if not ca_file:
        return True
    context = ssl.create_default_context()
    try:
        context.load_verify_locations(cafile=os.path.expanduser(ca_file))
    except ssl.SSLError:   # an OSError too: first
        raise ValueError(f"--source-ca-file {ca_file}: no PEM certificate in it (give the CA's"
                         " certificate, -----BEGIN CERTIFICATE-----)") from None
    except OSError as exc:
        raise ValueError(f"--source-ca-file {ca_file}: cannot read it ({exc.strerror or exc})") from None
    return context


class SourcePolicy:
    def __init__(self, allow_nets=(), ca_file=None):
        """allow_nets: networks the operator allows besides public addresses ("127.0.0.0/8"
        for the simulator, a LAN's range); ValueError names a malformed one. ca_file: CA
        certificates trusted besides the system's (ValueError when it cannot be used)."""
        self.tls = tls_context(ca_file)
        self.allowed = []
        for net in allow_nets:
            try:
                self.allowed.append(ipaddress.ip_network(net, strict=False))
            except ValueError:
                raise ValueError(f"--allow-source-net {net!r} is not a network like 10.0.0.0/8") from None

    def refusal(self, address):
        """None when the meta server may connect to address (text), else why not, by kind."""
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return "not an IP address"
        carried = list(_carried(ip))
        if any(c in net for c in carried for net in self.allowed if c.version == net.version):
            return None
        for c in carried:
            kind = _kind(c)
            if kind:
                return f"{kind} address, not allowed (the operator can allow a network with --allow-source-net)"
        return None

    def connector(self, **kwargs):
        """An aiohttp connector that connects only where this policy allows, verifying https
        servers' certificates with the policy's TLS context."""
        return PolicyConnector(self, ssl=self.tls, **kwargs)


class PolicyConnector(aiohttp.TCPConnector):
    """TCPConnector whose every resolved address (an IP literal too) passes the policy first;
    aiohttp then connects to exactly those addresses. aiohttp reports the refusal as a
    ClientConnectorError whose os_error is a SourceRefused."""

    def __init__(self, policy, **kwargs):
        super().__init__(**kwargs)
        self._policy = policy

    async def _resolve_host(self, host, port, traces=None):
        hosts = await super()._resolve_host(host, port, traces=traces)
        for h in hosts:
            why = self._policy.refusal(h["host"])
            if why:
                raise SourceRefused(why)
        return hosts
