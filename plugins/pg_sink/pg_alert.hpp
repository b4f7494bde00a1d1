// pg_sink's alert state step (ISITUP_SINK_ALERT_STATE): the agent's check state, its events,
// the incidents they open and resolve, and the outbox of deliveries, stored in the
// transaction of the result rows they came from (migration 5's tables, see pg_schema.hpp).
// write_alert_state is one clearly separate step of that transaction, after the rows'
// INSERT and before COMMIT, so any way of writing the rows composes with it.
//
// Idempotent: a state is replaced only by a higher version; an event, an incident and an
// outbox entry are stored once (by event_id, incident_id, (event_id, sink)), so writing the
// same state again (a batch sent again, a replay after a crash) changes nothing.
//
// Each statement takes all its rows as parameters (the states as arrays for unnest(), the
// events as one JSON document for jsonb_to_recordset): one round trip per step and no SQL
// built from a value. Not thread-safe: the caller owns `tx`.
#pragma once

#include <isitup/plugin.h>

#include <pqxx/pqxx>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "pg_schema.hpp"

namespace isitup::pg {

struct alert_counts {
  uint64_t states = 0;  // check states written (or kept: a higher version was stored)
  uint64_t events = 0;  // events offered
};

// Stores `deltas` (each from a batch whose last rows are in `tx`; later ones may repeat
// earlier checks and events), only those of check `only` when it is given. Throws pqxx errors.
void write_alert_state(pqxx::transaction_base& tx, const quoted_names& q,
                       const std::vector<const isitup_alert_state_v1*>& deltas,
                       alert_counts& counts, const std::string* only = nullptr);

// The checks `deltas` name, each once.
std::vector<std::string> checks_in(const std::vector<const isitup_alert_state_v1*>& deltas);

// Marks deliveries: sink name -> event ids. Throws pqxx errors.
void mark_delivered(pqxx::transaction_base& tx, const quoted_names& q,
                    const std::map<std::string, std::vector<std::string>>& marks);

// Reads every check state and every outbox event not yet delivered (with the sinks that have
// not had it), in the order they were stored, and hands them to `loaded` once.
void load_alert_state(pqxx::transaction_base& tx, const quoted_names& q,
                      const std::function<void(const isitup_alert_state_v1&)>& loaded);

}  // namespace isitup::pg
