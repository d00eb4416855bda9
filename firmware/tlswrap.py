# TLS for https:// meta servers and sources: one client context, the server's certificate checked
# against the CA given in the config ("ca": a PEM or DER file), the host name against the
# certificate. Imported only when the config names a CA, so plain-HTTP devices never load ssl.
import ssl
from binascii import a2b_base64


def _der(data):
    """DER bytes of the first certificate in a PEM or DER file's contents."""
    start = data.find(b"-----BEGIN CERTIFICATE-----")
    if start < 0:
        return data
    end = data.find(b"-----END CERTIFICATE-----", start)
    if end < 0:
        raise ValueError("ca: unterminated PEM certificate")
    body = data[start + 27:end].replace(b"\r", b"").replace(b"\n", b"")
    return a2b_base64(body)


class TLS:
    def __init__(self, ca_path):
        try:
            with open(ca_path, "rb") as f:
                ca = _der(f.read())
        except OSError:
            raise ValueError("ca: cannot read %s" % ca_path)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cadata=ca)
        self.ctx = ctx

    def wrap(self, sock, host):
        return self.ctx.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
