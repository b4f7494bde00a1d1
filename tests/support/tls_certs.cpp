#include "tls_certs.hpp"

#include <fstream>
#include <stdexcept>
#include <vector>

#include "process.hpp"

namespace isitup::test {
namespace {

void openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"/usr/bin/openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  const run_result r = run(argv, std::chrono::seconds(30));
  if (r.code != 0) throw std::runtime_error("openssl " + args.front() + " failed: " + r.err);
}

void write_text(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p) << text;
}

}  // namespace

tls_certs::tls_certs(const std::filesystem::path& dir) {
  auto p = [&](const std::string& name) { return (dir / name).string(); };
  const std::vector<std::string> ec{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                    "-nodes"};
  auto make_ca = [&](const std::string& name, const std::string& cn) {
    std::vector<std::string> a{"req", "-x509"};
    a.insert(a.end(), ec.begin(), ec.end());
    a.insert(a.end(), {"-keyout", p(name + ".key"), "-out", p(name + ".pem"), "-days", "3650",
                       "-subj", "/CN=" + cn, "-addext", "basicConstraints=critical,CA:TRUE",
                       "-addext", "keyUsage=critical,keyCertSign,cRLSign"});
    openssl(a);
    return p(name + ".pem");
  };
  // A key and a certificate `name` signed by CA `ca_name`, with the extensions in `ext`.
  auto issue = [&](const std::string& name, const std::string& ca_name, const std::string& cn,
                   const std::string& ext) {
    std::vector<std::string> a{"req"};
    a.insert(a.end(), ec.begin(), ec.end());
    a.insert(a.end(),
             {"-keyout", p(name + ".key"), "-out", p(name + ".csr"), "-subj", "/CN=" + cn});
    openssl(a);
    write_text(dir / (name + ".ext"), ext);
    openssl({"x509", "-req", "-in", p(name + ".csr"), "-CA", p(ca_name + ".pem"), "-CAkey",
             p(ca_name + ".key"), "-CAcreateserial", "-out", p(name + ".pem"), "-days", "365",
             "-extfile", p(name + ".ext")});
  };
  const std::string server_ext =
      "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
      "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:127.0.0.2,IP:127.0.0.3,IP:127.0.0.4,IP:::1\n";
  const std::string client_ext = "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n";

  ca = make_ca("ca", "isitup test CA");
  other_ca = make_ca("other-ca", "another CA");
  issue("server", "ca", "localhost", server_ext);
  issue("wrong-host", "ca", "wrong.example",
        "basicConstraints=CA:FALSE\nsubjectAltName=DNS:wrong.example\n");
  issue("other-server", "other-ca", "localhost", server_ext);
  issue("client", "ca", "isitup probe", client_ext);
  server_cert = p("server.pem");
  server_key = p("server.key");
  wrong_host_cert = p("wrong-host.pem");
  wrong_host_key = p("wrong-host.key");
  other_server_cert = p("other-server.pem");
  other_server_key = p("other-server.key");
  client_cert = p("client.pem");
  client_key = p("client.key");

  client_key_encrypted = p("client-encrypted.key");
  write_text(dir / "key-password", key_password + "\n");
  openssl({"pkey", "-in", client_key, "-out", client_key_encrypted, "-aes256", "-passout",
           "file:" + p("key-password")});

  // Expired certificates: `openssl ca` takes explicit start and end dates (January 2020).
  write_text(dir / "index.txt", "");
  write_text(dir / "serial", "1000\n");
  auto issue_expired = [&](const std::string& name, const std::string& cn, const std::string& ext) {
    std::vector<std::string> a{"req"};
    a.insert(a.end(), ec.begin(), ec.end());
    a.insert(a.end(),
             {"-keyout", p(name + ".key"), "-out", p(name + ".csr"), "-subj", "/CN=" + cn});
    openssl(a);
    write_text(dir / (name + ".cnf"), "[ca]\ndefault_ca = d\n[d]\ndatabase = " + p("index.txt") +
                                          "\nnew_certs_dir = " + dir.string() +
                                          "\nserial = " + p("serial") +
                                          "\ndefault_md = sha256\npolicy = any\n"
                                          "unique_subject = no\nx509_extensions = ext\n"
                                          "[any]\ncommonName = supplied\n[ext]\n" +
                                          ext);
    openssl({"ca", "-batch", "-config", p(name + ".cnf"), "-cert", ca, "-keyfile", p("ca.key"),
             "-in", p(name + ".csr"), "-out", p(name + ".pem"), "-startdate", "20200101000000Z",
             "-enddate", "20200201000000Z", "-notext"});
  };
  issue_expired("expired", "isitup probe (expired)", client_ext);
  expired_client_cert = p("expired.pem");
  expired_client_key = p("expired.key");
  issue_expired("expired-server", "localhost", server_ext);
  expired_server_cert = p("expired-server.pem");
  expired_server_key = p("expired-server.key");

  unrelated_key = p("unrelated.key");
  openssl({"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out",
           unrelated_key});
  // Private keys as they should be kept: readable by their owner only.
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.path().extension() == ".key")
      std::filesystem::permissions(
          entry.path(), std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

}  // namespace isitup::test
