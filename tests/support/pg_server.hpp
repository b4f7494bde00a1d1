// Test helper: a throwaway PostgreSQL server in a temp directory, listening on 127.0.0.1.
//
// pg_server srv;            // initdb + start; throws std::runtime_error (with the server log)
//                           // when PostgreSQL cannot be set up or started: tests fail, never skip
// srv.conninfo()            // "host=127.0.0.1 port=P user=postgres dbname=postgres"
// srv.psql("SELECT 1")      // runs SQL through psql, returns the unaligned, tuples-only output
// srv.stop(); srv.start();  // fault tests: the server goes away and comes back on the same port
//
// The server runs as the `postgres` user when the test runs as root (initdb refuses root),
// with trust authentication, UTF-8, and fsync off (tests do not survive power loss anyway;
// commits still go through the normal commit path). The postmaster is a direct child of the
// test process and gets SIGQUIT (immediate shutdown) if the thread that started it dies, so a
// test killed by a timeout leaves no server behind. Call start() and stop() from the thread
// that owns the object (the test's main thread). Binaries come from $ISITUP_PG_BIN, else the
// newest /usr/lib/postgresql/<version>/bin.
//
// The port is picked below the kernel's ephemeral range (and tested free), so that while the
// server is stopped no kernel-chosen port of another test can take it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace isitup::test {

struct pg_server_options {
  bool fsync = false;              // on for benchmarks that should pay for durability
  std::vector<std::string> extra;  // more "name=value" server settings
};

class pg_server {
 public:
  explicit pg_server(pg_server_options options = {});
  ~pg_server();  // immediate shutdown, removes the directory
  pg_server(const pg_server&) = delete;
  pg_server& operator=(const pg_server&) = delete;

  int port() const { return port_; }
  // libpq key=value connection string for `dbname`, as the superuser postgres.
  std::string conninfo(const std::string& dbname = "postgres") const;
  // The same as a postgresql:// URI.
  std::string uri(const std::string& dbname = "postgres") const;
  const std::filesystem::path& dir() const { return dir_; }

  // Starts the server (again) on the same port and waits until it accepts connections (at
  // most 60 s). Throws with the log's tail when it exits or does not get ready.
  void start();
  // Fast shutdown (sessions are terminated, the server writes a checkpoint); waits for exit.
  void stop();
  bool running() const { return pid_ > 0; }

  // Runs `sql` with psql (ON_ERROR_STOP) against `dbname`; returns stdout (unaligned, tuples
  // only, fields separated by '|'). Throws std::runtime_error with psql's stderr on failure.
  std::string psql(const std::string& sql, const std::string& dbname = "postgres") const;
  // CREATE DATABASE name (a plain identifier).
  void create_database(const std::string& name) const;

  // The last `max_bytes` of the server log.
  std::string log_tail(std::size_t max_bytes = 4000) const;

 private:
  void kill_server(int sig, std::chrono::milliseconds wait);

  pg_server_options options_;
  std::filesystem::path bin_;
  std::filesystem::path dir_;  // owned by the server's user; data/ and the socket live here
  int port_ = 0;
  pid_t pid_ = -1;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  bool switch_user_ = false;
};

}  // namespace isitup::test
