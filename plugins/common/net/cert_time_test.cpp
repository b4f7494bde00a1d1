// A certificate's notAfter and its days left (net/cert_time.hpp), without a network (label unit:
// also run under ASan and UBSan).
#include "net/cert_time.hpp"

#include <gtest/gtest.h>
#include <openssl/asn1.h>
#include <openssl/pem.h>

#include <chrono>
#include <memory>
#include <string_view>

#include <isitup/plugin.h>
#include <isitup/util/civil_time.hpp>

namespace isitup::net {
namespace {

struct x509_free {
  void operator()(X509* c) const { X509_free(c); }
};
using x509_ptr = std::unique_ptr<X509, x509_free>;

// ISRG Root X2 (Let's Encrypt's ECDSA root): notAfter 2040-09-17 16:00:00 UTC, a UTCTime.
constexpr std::string_view isrg_root_x2 = R"(-----BEGIN CERTIFICATE-----
MIICGzCCAaGgAwIBAgIQQdKd0XLq7qeAwSxs6S+HUjAKBggqhkjOPQQDAzBPMQsw
CQYDVQQGEwJVUzEpMCcGA1UEChMgSW50ZXJuZXQgU2VjdXJpdHkgUmVzZWFyY2gg
R3JvdXAxFTATBgNVBAMTDElTUkcgUm9vdCBYMjAeFw0yMDA5MDQwMDAwMDBaFw00
MDA5MTcxNjAwMDBaME8xCzAJBgNVBAYTAlVTMSkwJwYDVQQKEyBJbnRlcm5ldCBT
ZWN1cml0eSBSZXNlYXJjaCBHcm91cDEVMBMGA1UEAxMMSVNSRyBSb290IFgyMHYw
EAYHKoZIzj0CAQYFK4EEACIDYgAEzZvVn4CDCuwJSvMWSj5cz3es3mcFDR0HttwW
+1qLFNvicWDEukWVEYmO6gbf9yoWHKS5xcUy4APgHoIYOIvXRdgKam7mAHf7AlF9
ItgKbppbd9/w+kHsOdx1ymgHDB/qo0IwQDAOBgNVHQ8BAf8EBAMCAQYwDwYDVR0T
AQH/BAUwAwEB/zAdBgNVHQ4EFgQUfEKWrt5LSDv6kviejM9ti6lyN5UwCgYIKoZI
zj0EAwMDaAAwZQIwe3lORlCEwkSHRhtFcP9Ymd70/aTSVaYgLXTWNLxBo1BfASdW
tL4ndQavEi51mI38AjEAi/V3bNTIZargCyzuFJ0nN6T5U6VR5CmD1/iQMVtCnwr1
/q4AaOeMSQ+2b1tbFfLn
-----END CERTIFICATE-----
)";
constexpr int64_t isrg_root_x2_not_after_ms = 2'231'510'400'000;  // 2040-09-17T16:00:00Z
constexpr int64_t hour_ms = 3'600'000;

x509_ptr from_pem(std::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  x509_ptr cert(PEM_read_bio_X509(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  return cert;
}

// A bare certificate whose notAfter is `asn1_time` (YYMMDDHHMMSSZ or YYYYMMDDHHMMSSZ).
x509_ptr expiring_at(const char* asn1_time) {
  x509_ptr cert(X509_new());
  if (ASN1_TIME_set_string(X509_getm_notAfter(cert.get()), asn1_time) != 1) return nullptr;
  return cert;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST(not_after_ms, reads_a_known_certificate) {
  const x509_ptr cert = from_pem(isrg_root_x2);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(not_after_ms(cert.get()), isrg_root_x2_not_after_ms);
  EXPECT_EQ(sdk::utc_seconds_text(not_after_ms(cert.get())), "2040-09-17T16:00:00Z");
}

TEST(not_after_ms, reads_utc_and_generalized_times_to_the_last_second_of_9999) {
  const x509_ptr expired = expiring_at("200131120000Z");
  const x509_ptr generalized = expiring_at("20500101000000Z");
  const x509_ptr far = expiring_at("99991231235959Z");
  ASSERT_TRUE(expired && generalized && far);
  EXPECT_EQ(sdk::utc_seconds_text(not_after_ms(expired.get())), "2020-01-31T12:00:00Z");
  EXPECT_EQ(not_after_ms(generalized.get()), 2'524'608'000'000);
  EXPECT_EQ(not_after_ms(far.get()), sdk::latest_utc_text_ms - 999);
}

TEST(not_after_ms, is_absent_without_a_certificate_or_a_readable_time) {
  EXPECT_EQ(not_after_ms(nullptr), ISITUP_ABSENT_TIME);
  const x509_ptr garbled(X509_new());
  ASSERT_EQ(ASN1_STRING_set(X509_getm_notAfter(garbled.get()), "not a time", -1), 1);
  EXPECT_EQ(not_after_ms(garbled.get()), ISITUP_ABSENT_TIME);
}

TEST(days_left, counts_whole_days_rounded_down) {
  const int64_t at = isrg_root_x2_not_after_ms;
  EXPECT_EQ(days_left(at, at - 30 * sdk::ms_per_day), 30);
  EXPECT_EQ(days_left(at, at - sdk::ms_per_day), 1);
  EXPECT_EQ(days_left(at, at - 23 * hour_ms), 0);
  EXPECT_EQ(days_left(at, at), 0);
  EXPECT_EQ(days_left(at, at + 1), -1);  // expired a millisecond ago
  EXPECT_EQ(days_left(at, at + hour_ms), -1);
  EXPECT_EQ(days_left(at, at + sdk::ms_per_day), -1);
  EXPECT_EQ(days_left(at, at + sdk::ms_per_day + 1), -2);
}

TEST(days_left, of_an_expired_and_a_far_future_certificate) {
  const x509_ptr expired = expiring_at("200131120000Z");
  const x509_ptr far = expiring_at("99991231235959Z");
  ASSERT_TRUE(expired && far);
  const int64_t feb_2020 = 1'580'515'200'000;  // 2020-02-01T00:00:00Z
  EXPECT_EQ(days_left(not_after_ms(expired.get()), feb_2020), -1);
  EXPECT_EQ(days_left(not_after_ms(expired.get()), feb_2020 + 300 * sdk::ms_per_day), -301);
  EXPECT_EQ(days_left(not_after_ms(far.get()), 0), 2'932'896);  // 1970-01-01 to 9999-12-31
  // From the system clock: the expired one is behind, the far one ahead, the known one agrees.
  EXPECT_LT(days_left(not_after_ms(expired.get())), -1000);
  EXPECT_GT(days_left(not_after_ms(far.get())), 2'900'000);
  const x509_ptr known = from_pem(isrg_root_x2);
  const int64_t before = now_ms();
  const int32_t left = days_left(not_after_ms(known.get()));
  const int64_t after = now_ms();
  EXPECT_LE(left, days_left(isrg_root_x2_not_after_ms, before));
  EXPECT_GE(left, days_left(isrg_root_x2_not_after_ms, after));
}

TEST(days_left, keeps_an_absent_time_absent) {
  EXPECT_EQ(days_left(ISITUP_ABSENT_TIME), ISITUP_ABSENT_DAYS);
  EXPECT_EQ(days_left(ISITUP_ABSENT_TIME, 0), ISITUP_ABSENT_DAYS);
}

}  // namespace
}  // namespace isitup::net
