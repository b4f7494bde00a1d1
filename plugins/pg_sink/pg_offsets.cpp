#include "pg_offsets.hpp"

#include <algorithm>
#include <tuple>

namespace isitup::pg {

std::vector<claimed_position> claim(pqxx::transaction_base& tx, const quoted_names& q,
                                    const std::string& group, const std::string& topic,
                                    const std::vector<int32_t>& partitions) {
  std::vector<int32_t> order = partitions;
  std::sort(order.begin(), order.end());
  order.erase(std::unique(order.begin(), order.end()), order.end());
  const std::string sql = "INSERT INTO " + q.offsets +
                          " AS o (consumer_group, topic, partition, next_offset, epoch)"
                          " VALUES ($1, $2, $3, NULL, 1) ON CONFLICT (consumer_group, topic,"
                          " partition) DO UPDATE SET epoch = o.epoch + 1, updated_at = now()"
                          " RETURNING epoch, coalesce(next_offset, -1)";
  std::vector<claimed_position> got;
  got.reserve(order.size());
  for (int32_t p : order) {
    const pqxx::row r = tx.exec_params1(sql, group, topic, p);
    got.push_back(claimed_position{p, r[0].as<int64_t>(), r[1].as<int64_t>()});
  }
  std::vector<claimed_position> out;
  out.reserve(partitions.size());
  for (int32_t p : partitions)
    out.push_back(*std::find_if(got.begin(), got.end(),
                                [&](const claimed_position& c) { return c.partition == p; }));
  return out;
}

bool advance(pqxx::transaction_base& tx, const quoted_names& q,
             std::vector<batch_position> positions, bool try_fast, std::string& why) {
  std::sort(positions.begin(), positions.end(), [](const auto& a, const auto& b) {
    return std::tie(a.group, a.topic, a.partition) < std::tie(b.group, b.topic, b.partition);
  });
  const std::string fast_sql = "UPDATE " + q.offsets +
                               " SET next_offset = $5, updated_at = now() WHERE"
                               " consumer_group = $1 AND topic = $2 AND partition = $3 AND"
                               " epoch = $4 AND next_offset = $6";
  const std::string look_sql = "SELECT epoch, next_offset FROM " + q.offsets +
                               " WHERE consumer_group = $1 AND topic = $2 AND partition = $3"
                               " FOR UPDATE";
  const std::string slow_sql =
      "INSERT INTO " + q.offsets +
      " AS o (consumer_group, topic, partition, next_offset, epoch) VALUES ($1, $2, $3, $4, $5)"
      " ON CONFLICT (consumer_group, topic, partition) DO UPDATE SET"
      " next_offset = greatest(o.next_offset, excluded.next_offset),"
      " epoch = greatest(o.epoch, excluded.epoch), updated_at = now()";
  bool fast = try_fast;
  for (const batch_position& p : positions) {
    if (try_fast && p.epoch > 0 &&
        tx.exec_params(fast_sql, p.group, p.topic, p.partition, p.epoch, p.next, p.first)
                .affected_rows() == 1)
      continue;
    const pqxx::result r = tx.exec_params(look_sql, p.group, p.topic, p.partition);
    const std::string where = "partition " + std::to_string(p.partition) + " of " + p.topic;
    if (!r.empty() && p.epoch > 0 && r[0][0].as<int64_t>() > p.epoch)
      throw fenced_error(where + " was claimed by another reader (epoch " + r[0][0].c_str() +
                         ", this batch was read in epoch " + std::to_string(p.epoch) + ")");
    // Claimed in this epoch, nothing stored with positions yet: the partition's first batch
    // goes the fast way too. Rows stored before positions were kept make its COPY fail with a
    // unique violation, and the write goes the slow way then (pg_writer).
    const bool first_batch =
        !r.empty() && r[0][1].is_null() && p.epoch > 0 && r[0][0].as<int64_t>() == p.epoch;
    if (fast && !first_batch) {
      fast = false;
      if (r.empty())
        why = "no stored position for " + where;
      else if (r[0][1].is_null())
        why = "no stored offset yet for " + where;
      else if (p.epoch == 0)
        why = where + " was read without a claim";
      else
        why = where + " is stored up to offset " + r[0][1].c_str() + ", the batch starts at " +
              std::to_string(p.first);
    }
    tx.exec_params(slow_sql, p.group, p.topic, p.partition, p.next, p.epoch);
  }
  return fast;
}

bool follow_on(std::vector<batch_position>& into, const std::vector<batch_position>& more) {
  std::vector<batch_position> out = into;
  for (const batch_position& m : more) {
    auto same = std::find_if(out.begin(), out.end(), [&](const batch_position& p) {
      return p.partition == m.partition && p.topic == m.topic && p.group == m.group;
    });
    if (same == out.end()) {
      out.push_back(m);
      continue;
    }
    if (same->epoch != m.epoch || same->next != m.first) return false;
    same->next = m.next;
  }
  into = std::move(out);
  return true;
}

void position_holds::failed(const std::vector<batch_position>& positions) {
  for (const batch_position& p : positions) {
    auto [it, added] = held_.try_emplace(key{p.group, p.topic, p.partition}, p.first, p.epoch);
    if (!added && (p.epoch > it->second.second ||
                   (p.epoch == it->second.second && p.first < it->second.first)))
      it->second = {p.first, p.epoch};
  }
}

void position_holds::done(const std::vector<batch_position>& positions) {
  for (const batch_position& p : positions) {
    auto it = held_.find(key{p.group, p.topic, p.partition});
    if (it != held_.end() && (p.epoch > it->second.second || p.first <= it->second.first))
      held_.erase(it);
  }
}

bool position_holds::must_wait(const std::vector<batch_position>& positions) {
  bool wait = false;
  for (const batch_position& p : positions) {
    auto it = held_.find(key{p.group, p.topic, p.partition});
    if (it == held_.end()) continue;
    if (p.epoch > it->second.second)
      held_.erase(it);  // claimed again since: the held batch will be refused anyway
    else if (p.epoch == it->second.second && p.first > it->second.first)
      wait = true;
  }
  return wait;
}

}  // namespace isitup::pg
