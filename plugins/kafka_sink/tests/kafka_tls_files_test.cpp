// kafka_sink's start-up checks of TLS files: each mistake is refused naming the property and
// what was expected, before librdkafka sees it; good material (also an encrypted key with its
// password, a CA directory, "probe") passes. Files made by openssl at test time.
#include "kafka_tls_files.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "process.hpp"
#include "tls_certs.hpp"

using isitup::kafka::check_tls_files;
using isitup::kafka::property_list;

namespace {

class tls_files : public ::testing::Test {
 protected:
  isitup::test::temp_dir dir;
  isitup::test::tls_certs certs{dir.path()};

  property_list good() const {
    return {{"security.protocol", "ssl"},
            {"ssl.ca.location", certs.ca},
            {"ssl.certificate.location", certs.client_cert},
            {"ssl.key.location", certs.client_key}};
  }
  // The error for `props`, or "" when they pass.
  static std::string error(const property_list& props) {
    try {
      check_tls_files(props);
      return "";
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
  }
  property_list with(property_list p, const std::string& name, const std::string& value) const {
    for (auto& [k, v] : p)
      if (k == name) {
        v = value;
        return p;
      }
    p.emplace_back(name, value);
    return p;
  }
};

}  // namespace

TEST_F(tls_files, good_material_passes) {
  EXPECT_EQ(error(good()), "");
  EXPECT_EQ(error(with(with(good(), "ssl.key.location", certs.client_key_encrypted),
                       "ssl.key.password", certs.key_password)),
            "");
  EXPECT_EQ(error({{"ssl.ca.location", "probe"}}), "");
  EXPECT_EQ(error({{"ssl.ca.location", dir.path().string()}}), "") << "a CA directory";
  EXPECT_EQ(error({{"ssl.ca.pem", isitup::test::read_file(certs.ca)}}), "");
  EXPECT_EQ(error({{"security.protocol", "sasl_ssl"}, {"sasl.mechanism", "PLAIN"}}), "");
}

TEST_F(tls_files, each_mistake_names_the_property_and_what_was_expected) {
  const std::string text_file = dir.write("notes.txt", "not a certificate\n");
  // A certificate where the key should be, kept as a key is (0600).
  const std::string cert_as_key =
      dir.write("cert-as.key", isitup::test::read_file(certs.client_cert));
  std::filesystem::permissions(cert_as_key, std::filesystem::perms::owner_read);
  const struct {
    property_list props;
    std::string property, expected;
  } cases[] = {
      {with(good(), "ssl.ca.location", (dir / "missing.pem").string()), "'ssl.ca.location'",
       "No such file or directory"},
      {with(good(), "ssl.ca.location", text_file), "'ssl.ca.location'", "no PEM certificate"},
      {with(good(), "ssl.certificate.location", dir.path().string()), "'ssl.certificate.location'",
       "not a regular file"},
      {with(good(), "ssl.certificate.location", certs.client_key), "'ssl.certificate.location'",
       "no PEM certificate"},
      {with(good(), "ssl.key.location", cert_as_key), "'ssl.key.location'", "no PEM private key"},
      {with(good(), "ssl.key.location", certs.unrelated_key), "'ssl.key.location'",
       "does not match the certificate in ssl.certificate.location"},
      {with(good(), "ssl.key.location", certs.client_key_encrypted), "'ssl.key.location'",
       "the key is encrypted: set ssl.key.password"},
      {with(with(good(), "ssl.key.location", certs.client_key_encrypted), "ssl.key.password",
            "wrong"),
       "'ssl.key.location'", "cannot be decrypted with ssl.key.password"},
      {{{"ssl.key.location", certs.client_key}}, "'ssl.key.location'", "without a certificate"},
      {{{"ssl.certificate.location", certs.client_cert}},
       "'ssl.certificate.location'",
       "without its key"},
      {{{"ssl.crl.location", text_file}}, "'ssl.crl.location'", "no PEM CRL"},
      {{{"ssl.keystore.location", certs.client_key}},
       "'ssl.keystore.location'",
       "not a PKCS#12 file"},
      {{{"ssl.certificate.pem", "garbage"}, {"ssl.key.pem", "garbage"}},
       "'ssl.certificate.pem'",
       "no PEM certificate"},
  };
  for (const auto& c : cases) {
    const std::string e = error(c.props);
    EXPECT_NE(e.find(c.property), std::string::npos) << c.expected << ": " << e;
    EXPECT_NE(e.find(c.expected), std::string::npos) << e;
  }
  EXPECT_EQ(error(with(with(good(), "ssl.key.location", certs.client_key_encrypted),
                       "ssl.key.password", "wrong"))
                .find("wrong\""),
            std::string::npos)
      << "the password never appears";
}

TEST_F(tls_files, a_key_other_users_can_read_is_refused) {
  namespace fs = std::filesystem;
  fs::permissions(certs.client_key, fs::perms::others_read, fs::perm_options::add);
  const std::string e = error(good());
  EXPECT_NE(e.find("'ssl.key.location'"), std::string::npos) << e;
  EXPECT_NE(e.find("accessible by other users (mode 0604)"), std::string::npos) << e;
  fs::permissions(certs.client_key, fs::perms::others_read, fs::perm_options::remove);
  fs::permissions(certs.client_key, fs::perms::group_read, fs::perm_options::add);
  EXPECT_EQ(error(good()), "") << "0640 (a group of readers) is fine";
}
