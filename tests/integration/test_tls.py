"""SIP over TLS and HTTPS, with client certificates, checked with
`openssl s_client` as the peer.

- SIP over TLS answers OPTIONS and verifies INVITEs like SIP over TCP;
- a verified client certificate names a customer (signing over TLS needs no
  known address) and an SBC trusted to set tgrp (cert:NAME);
- a certificate from another CA is refused at the handshake;
- both HTTP APIs speak HTTPS; the signing API knows a customer by its
  certificate, and refuses a client without one;
- a client that never finishes the handshake is cut at the message
  deadline.

    python3 test_tls.py BUILD_DIR
"""
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, finish, free_ports, header, start, stop  # noqa: E402

BUILD = os.path.abspath(sys.argv[1])
CG, CGD = os.path.join(BUILD, "cidguard"), os.path.join(BUILD, "cidguardd")
WORK = tempfile.mkdtemp(prefix="cgd-tls-")
procs = []
PORTS = {}
OWN, UK, CALLEE = "442079460000", "442079460123", "14155550100"


def run(*args, **kw):
    return subprocess.run(args, capture_output=True, text=True, check=True, **kw)


def openssl_ca(name):
    key, crt = os.path.join(WORK, name + ".key"), os.path.join(WORK, name + ".crt")
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", key, "-out", crt, "-days", "2", "-subj", "/CN=%s" % name,
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
    return key, crt


def openssl_leaf(name, ca, ext):
    key, csr, crt = (os.path.join(WORK, name + s) for s in (".key", ".csr", ".crt"))
    run("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", key, "-out", csr, "-subj", "/CN=%s" % name)
    with open(os.path.join(WORK, name + ".ext"), "w") as f:
        f.write(ext)
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca[1], "-CAkey", ca[0], "-CAcreateserial",
        "-days", "2", "-out", crt, "-extfile", os.path.join(WORK, name + ".ext"))
    return key, crt


def s_client(port, data, cert=None, wait=2.0):
    """Sends `data` over TLS with openssl s_client (trusting the server CA)
    and returns what came back within `wait` seconds."""
    args = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-quiet", "-ign_eof",
            "-CAfile", SERVER_CA[1], "-verify_return_error", "-servername", "127.0.0.1"]
    if cert:
        args += ["-cert", cert[1], "-key", cert[0]]
    p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(data, timeout=wait)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    return out.decode(errors="replace"), err.decode(errors="replace")


def sip(method, branch, frm=OWN, ruri=None, identity=None):
    ruri = ruri or "sip:+%s@127.0.0.1;user=phone" % CALLEE
    return ("%s %s SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bK%s\r\n"
            "From: <sip:+%s@carrier.example;user=phone>;tag=1\r\nTo: <sip:+%s@127.0.0.1>\r\n"
            "Call-ID: %s@tls\r\nCSeq: 1 %s\r\n%sContent-Length: 0\r\n\r\n"
            % (method, ruri, branch, frm, CALLEE, branch, method,
               "Identity: %s\r\n" % identity if identity else "")).encode()


def https_post(port, path, body, cert=None):
    req = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
           "Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (path, len(body), body)).encode()
    return s_client(port, req, cert)[0]


try:
    run(CG, "pki", "init", os.path.join(WORK, "pki"), "--spc", "1234")
    SERVER_CA = openssl_ca("server-ca")
    server = openssl_leaf("server", SERVER_CA, "subjectAltName=IP:127.0.0.1\n"
                          "extendedKeyUsage=serverAuth\n")
    CLIENT_CA = openssl_ca("client-ca")
    acme = openssl_leaf("acme", CLIENT_CA, "subjectAltName=DNS:acme.example\n"
                        "extendedKeyUsage=clientAuth\n")
    sbc = openssl_leaf("sbc1", CLIENT_CA, "extendedKeyUsage=clientAuth\n")
    ROGUE_CA = openssl_ca("rogue-ca")
    rogue = openssl_leaf("acme-rogue", ROGUE_CA, "subjectAltName=DNS:acme\n"
                         "extendedKeyUsage=clientAuth\n")
    with open(os.path.join(WORK, "customers.csv"), "w") as f:
        f.write("customer,addresses,numbers\nacme,,%s\n" % OWN)
    with open(os.path.join(WORK, "ingress.csv"), "w") as f:
        f.write("ingress,international,addresses,note\nintl,yes,127.0.0.1,gateway\n"
                "dom,no,,domestic trunk group\n")
    os.makedirs(os.path.join(WORK, "state", "certs"))
    run("cp", os.path.join(WORK, "pki", "sp-1234.pem"), os.path.join(WORK, "state", "certs"))
    conf = os.path.join(WORK, "d.conf")

    def configure():
        PORTS["http"], PORTS["sign_http"], PORTS["tls"], PORTS["tls_sign"] = free_ports(4)
        PORTS["sip"], PORTS["sip_sign"] = free_ports(2, udp=True)
        with open(conf, "w") as f:
            f.write("[server]\nstate_dir = %s\nhttp_listen = 127.0.0.1:%d\n"
                    "sip_verify_listen = 127.0.0.1:%d\nsip_sign_listen = 127.0.0.1:%d\n"
                    "sign_http_listen = 127.0.0.1:%d\nsip_tls_verify_listen = 127.0.0.1:%d\n"
                    "sip_tls_sign_listen = 127.0.0.1:%d\nworkers = 2\ndecision_log = off\n"
                    "message_timeout_ms = 1500\n"
                    "[tls]\ncert = %s\nkey = %s\nclient_ca = %s\nhttps = yes\n"
                    "[verify]\ntrust = %s\n[fetch]\nallow = 127.0.0.1/32\nca_file = %s\n"
                    "[sign]\nkey = %s\nx5u = https://127.0.0.1:%d/certs/sp-1234.pem\ncustomers = %s\n"
                    "[policy]\ningress = %s\ntgrp_from = cert:sbc1\n"
                    "actions = uk_allocation_unknown=allow\n"
                    % (os.path.join(WORK, "state"), PORTS["http"], PORTS["sip"], PORTS["sip_sign"],
                       PORTS["sign_http"], PORTS["tls"], PORTS["tls_sign"], server[1], server[0],
                       CLIENT_CA[1], os.path.join(WORK, "pki", "root.pem"), SERVER_CA[1],
                       os.path.join(WORK, "pki", "sp-1234.key"), PORTS["http"],
                       os.path.join(WORK, "customers.csv"), os.path.join(WORK, "ingress.csv")))
        return [CGD, "-c", conf], PORTS["tls"]

    d = start(configure, os.path.join(WORK, "d.log"))
    procs.append(d)

    out, err = s_client(PORTS["tls"], sip("OPTIONS", "opt1"))
    check("SIP over TLS: OPTIONS answered 200 (openssl s_client, server certificate verified)",
          out.startswith("SIP/2.0 200"), (out, err[-400:]))

    # signing over TLS: the client certificate is the credential
    out, _ = s_client(PORTS["tls_sign"], sip("INVITE", "sign1"), cert=acme)
    token = header(out, "Identity")
    check("SIP/TLS signing with acme's client certificate: 302 with an Identity at A",
          out.startswith("SIP/2.0 302") and token and header(out, "Cidguard-Attest") == "A", out)
    out, _ = s_client(PORTS["tls_sign"], sip("INVITE", "sign2"))
    check("SIP/TLS signing without a client certificate from an unknown address: 403",
          out.startswith("SIP/2.0 403"), out)
    out, err = s_client(PORTS["tls_sign"], sip("INVITE", "sign3"), cert=rogue)
    check("a client certificate from another CA is refused at the handshake",
          not out.startswith("SIP/2.0"), (out, err[-300:]))

    # verification over TLS, with the token signed above
    dom = "sip:+%s;tgrp=dom;trunk-context=x@127.0.0.1;user=phone" % CALLEE
    out, _ = s_client(PORTS["tls"], sip("INVITE", "ver1", ruri=dom, identity=token), cert=sbc)
    check("SIP/TLS verification (the x5u fetched over HTTPS): 302 TN-Validation-Passed",
          out.startswith("SIP/2.0 302") and header(out, "Cidguard-Verstat") == "TN-Validation-Passed",
          out)

    # trunk groups from an SBC known by its certificate
    ruri = "sip:+%s;tgrp=dom;trunk-context=x@127.0.0.1;user=phone" % CALLEE
    out, _ = s_client(PORTS["tls"], sip("INVITE", "tg1", frm=UK, ruri=ruri), cert=sbc)
    check("tgrp from the SBC whose certificate tgrp_from names (cert:sbc1): the domestic trunk",
          out.startswith("SIP/2.0 302") and "intl_ingress_uk_cli" not in out, out)
    out, _ = s_client(PORTS["tls"], sip("INVITE", "tg2", frm=UK, ruri=ruri), cert=acme)
    check("the same tgrp from another certificate is ignored: the international gateway's call",
          out.startswith("SIP/2.0 608") and "intl_ingress_uk_cli" in out, out)

    # HTTPS
    out, _ = s_client(PORTS["http"], b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    check("HTTPS on the API listener: /healthz", " 200 " in out.split("\r\n")[0] and "ok" in out, out)
    body = ('{"signingRequest":{"attest":"A","orig":{"tn":"%s"},"dest":{"tn":["%s"]}}}'
            % (OWN, CALLEE))
    out = https_post(PORTS["sign_http"], "/stir/v1/signing", body, cert=acme)
    check("HTTPS signing with acme's client certificate: 200", " 200 " in out.split("\r\n")[0] and
          "signingResponse" in out, out)
    out = https_post(PORTS["sign_http"], "/stir/v1/signing", body)
    check("HTTPS signing without a certificate from an unknown address: 403",
          " 403 " in out.split("\r\n")[0], out)
    s = socket.create_connection(("127.0.0.1", PORTS["http"]))
    s.sendall(b"GET /healthz HTTP/1.1\r\n\r\n")
    s.settimeout(5)
    try:
        plain = s.recv(4096)
    except OSError:
        plain = b""
    s.close()
    check("plain HTTP to an HTTPS listener gets no HTTP answer", not plain.startswith(b"HTTP/1.1 200"))

    # a handshake that never finishes
    s = socket.create_connection(("127.0.0.1", PORTS["tls"]))
    s.sendall(b"\x16\x03\x01")
    s.settimeout(6)
    t0 = time.time()
    try:
        cut = s.recv(1) == b""
    except socket.timeout:
        cut = False
    except OSError:
        cut = True
    check("a TLS handshake left unfinished is cut at the message deadline (%.1f s)"
          % (time.time() - t0), cut and time.time() - t0 < 5)
    s.close()
finally:
    stop(procs, WORK)

finish()
