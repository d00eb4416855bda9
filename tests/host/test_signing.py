"""model/signing.py: URLs signed in nginx's secure_link form, and the check of them."""

import pytest

from host_server.model import signing
from host_server.model.errors import Invalid

SECRET = "s3cr3t-s3cr3t-s3cr3t"


def test_the_hash_is_nginxs_documented_example():
    # nginx.org's secure_link page: echo -n '2147483647/s/link127.0.0.1 secret' |
    #   openssl md5 -binary | openssl base64 | tr +/ -_ | tr -d =
    assert signing.link_hash("secret", 2147483647, b"/s/link127.0.0.1") == "_e4Nc3iduzkWRm01TBBNYw"


def test_a_url_is_signed_over_its_decoded_path():
    # by hand: echo -n '1700000000/music/a b.wav s3cr3t-s3cr3t-s3cr3t' | openssl md5 -binary |
    #   openssl base64 | tr +/ -_ | tr -d =
    url = signing.sign_url("http://files.example.org:8080/music/a%20b.wav", SECRET, 1700000000)
    assert url == ("http://files.example.org:8080/music/a%20b.wav"
                   "?md5=Zm_tOJRdhanDV5Zmjt_DIw&expires=1700000000")


def _parts(url):
    path_query = url.split("//", 1)[1].split("/", 1)[1]
    path, _, query = ("/" + path_query).partition("?")
    return path, query


def test_check_accepts_a_signed_url_until_its_time_then_says_expired():
    path, query = _parts(signing.sign_url("http://h/music/a%20b.wav", SECRET, 1000))
    assert signing.check(SECRET, path, query, now=999.5) == signing.VALID
    assert signing.check(SECRET, path, query, now=1000) == signing.VALID   # nginx: expired once past
    assert signing.check(SECRET, path, query, now=1000.5) == signing.EXPIRED


@pytest.mark.parametrize("tamper", [
    lambda p, q: (p.replace("a%20b", "c"), q),                     # another file
    lambda p, q: (p, q.replace("expires=1000", "expires=9000")),   # a later time
    lambda p, q: (p, q.replace("md5=", "md5=A")),                  # the hash altered
    lambda p, q: (p, q.split("&")[1]),                             # no hash
    lambda p, q: (p, q.split("&")[0]),                             # no time
    lambda p, q: (p, ""),                                          # nothing
    lambda p, q: (p, q.replace("expires=1000", "expires=-1")),
])
def test_check_forbids_a_tampered_or_missing_signature(tamper):
    path, query = _parts(signing.sign_url("http://h/music/a%20b.wav", SECRET, 1000))
    assert signing.check(SECRET, *tamper(path, query), now=0) == signing.FORBIDDEN
    assert signing.check(SECRET + "x", path, query, now=0) == signing.FORBIDDEN


def test_unsigned_gives_the_url_as_the_record_names_it():
    url = "http://h:1/m/a.wav"
    assert signing.unsigned(signing.sign_url(url, SECRET, 5)) == url
    assert signing.unsigned(url) == url


@pytest.mark.parametrize("bad", ["short", "has space in it ok", 'quote"quote"quote', "$uri$uri$uri$uri",
                                 "x" * 129, None, 12345678901234567])
def test_a_secret_nginx_would_read_otherwise_is_refused(bad):
    with pytest.raises(Invalid, match="16 to 128 characters"):
        signing.check_secret(bad)


def test_a_new_secret_is_one_check_secret_takes():
    assert signing.check_secret(signing.new_secret()) != signing.new_secret()
