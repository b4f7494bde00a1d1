#include "net/cert_time.hpp"

#include <chrono>
#include <ctime>

#include <isitup/plugin.h>
#include <isitup/util/civil_time.hpp>

namespace isitup::net {

int64_t not_after_ms(const X509* cert) {
  std::tm tm{};
  if (!cert || ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1) return ISITUP_ABSENT_TIME;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

int32_t days_left(int64_t epoch_ms, int64_t now_ms) {
  if (epoch_ms == ISITUP_ABSENT_TIME) return ISITUP_ABSENT_DAYS;
  // Certificate times lie in years 0..9999: the difference and its days fit.
  return static_cast<int32_t>(sdk::split_epoch_ms(epoch_ms - now_ms).days);
}

int32_t days_left(int64_t epoch_ms) {
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  return days_left(epoch_ms, now_ms);
}

}  // namespace isitup::net
