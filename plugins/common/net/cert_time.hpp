// A certificate's expiry as the result record carries it (tls_not_after_ms, tls_days_left), once
// for every check that reads one: http_check (the peer certificate of curl's and of the lean
// engine's TLS sessions), tcp_check and tls_check (conn_engine, and tls_check's chain report).
// Pure functions, any thread.
#pragma once

#include <openssl/x509.h>

#include <cstdint>

namespace isitup::net {

// Unix epoch milliseconds of `cert`'s notAfter (UTCTime or GeneralizedTime, whole seconds);
// ISITUP_ABSENT_TIME when `cert` is null or its notAfter is unreadable.
int64_t not_after_ms(const X509* cert);

// Whole days from `now_ms` until `epoch_ms`, rounded down: a certificate that expired an hour
// ago has -1 days left, one that expires in 23 hours 0. ISITUP_ABSENT_DAYS for
// ISITUP_ABSENT_TIME.
int32_t days_left(int64_t epoch_ms, int64_t now_ms);
// days_left() from the system clock's now.
int32_t days_left(int64_t epoch_ms);

}  // namespace isitup::net
