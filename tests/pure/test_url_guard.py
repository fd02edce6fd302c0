import socket

import pytest

from bj_api_sync.engine.url_guard import allows_internal, internal_host


def no_dns(host, port):
    raise socket.gaierror("no network in tests")


def fake_dns(mapping):
    def resolve(host, port):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, 0)) for ip in mapping[host]]
    return resolve


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8069/x", "http://localhost/x", "http://api.localhost/x",
    "http://10.1.2.3/x", "http://172.16.0.1/x", "http://192.168.1.1/x",
    "http://169.254.169.254/latest/meta-data", "http://[::1]:80/x", "http://0.0.0.0/x",
    "http://[::ffff:127.0.0.1]/x", "http://LOCALHOST./x",
])
def test_internal_literals_are_caught(url):
    assert internal_host(url, resolve=no_dns) is not None


@pytest.mark.parametrize("url", ["https://8.8.8.8/hook", "https://[2001:4860:4860::8888]/h"])
def test_public_literals_pass(url):
    assert internal_host(url, resolve=no_dns) is None


def test_names_are_judged_by_what_they_resolve_to():
    dns = fake_dns({"crm.example.com": ["93.184.216.34"], "intranet.example.com": ["10.0.0.5"],
                    "mixed.example.com": ["93.184.216.34", "127.0.0.1"]})
    assert internal_host("https://crm.example.com/h", resolve=dns) is None
    assert internal_host("https://intranet.example.com/h", resolve=dns) == "intranet.example.com"
    assert internal_host("https://mixed.example.com/h", resolve=dns) == "mixed.example.com"


def test_unresolvable_or_empty_hosts_are_not_judged():
    assert internal_host("https://nowhere.invalid/h", resolve=no_dns) is None
    assert internal_host("not a url", resolve=no_dns) is None


@pytest.mark.parametrize("value, allowed", [
    ("True", True), ("true", True), (" 1 ", True), ("yes", True),
    ("False", False), ("0", False), ("", False), (None, False), ("no", False),
])
def test_system_parameter_values(value, allowed):
    assert allows_internal(value) is allowed
