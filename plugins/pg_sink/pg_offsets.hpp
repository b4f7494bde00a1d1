// Kafka positions stored with the rows (migration 8, <table>_offsets): one row per (consumer
// group, topic, partition) with the next offset the stored rows end at and the epoch of the
// reader that owns the partition.
//
// - claim(): a reader assigned partitions takes each one by raising its epoch (the row is
//   made when missing) and learns where the stored rows end; it reads from there. The raise
//   waits for a transaction of the previous owner in progress on that row.
// - advance(): the first step of a batch's transaction. For each partition the batch read,
//   `UPDATE ... WHERE epoch = mine AND next_offset = first`: when every one matches, nothing of
//   the batch is stored yet and the rows may be COPYed straight into the results table (the
//   fast path). A stored epoch above the batch's means another reader claimed the partition:
//   fenced, the caller rolls back everything. A partition claimed in the batch's epoch with no
//   offset stored yet (its first batch) goes the fast way too: rows stored before positions
//   were kept make the COPY fail with a unique violation, and pg_writer writes the batch the
//   slow way then. Anything else (no row, a gap, an overlap, epoch 0 = a reader that could not
//   claim) takes the slow path (ON CONFLICT), and the row is set to the batch's end and the
//   higher epoch.
//
// SQL only from validated, quoted names; values as parameters. Rows are touched in (group,
// topic, partition) order, so concurrent writers do not deadlock. Any thread (the caller owns
// the transaction).
#pragma once

#include <pqxx/pqxx>

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "pg_schema.hpp"

namespace isitup::pg {

// One partition's share of a write: [first, next) read with `epoch` (0: unfenced).
struct batch_position {
  std::string group, topic;
  int32_t partition = 0;
  int64_t first = 0, next = 0, epoch = 0;
};

// A partition claimed: the epoch now held and the stored next offset (-1: none).
struct claimed_position {
  int32_t partition = 0;
  int64_t epoch = 0;
  int64_t next = -1;
};

// advance() found a partition claimed by another reader since the batch was read.
class fenced_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Raises the epoch of each partition of group/topic (in partition order) and returns them
// with the stored next offsets, in the order given. Commits nothing: the caller commits.
std::vector<claimed_position> claim(pqxx::transaction_base& tx, const quoted_names& q,
                                    const std::string& group, const std::string& topic,
                                    const std::vector<int32_t>& partitions);

// Records that the transaction stores `positions` (sorted by advance itself). Returns true
// when the fast path holds for every partition (with try_fast), false for the slow path with
// `why` set; throws fenced_error when another reader owns one of them now.
bool advance(pqxx::transaction_base& tx, const quoted_names& q,
             std::vector<batch_position> positions, bool try_fast, std::string& why);

// Adds the positions of the next batch (`more`) to those of a transaction (`into`) when every
// partition follows on (same epoch, its first == the next `into` has); false, `into`
// untouched, when one does not. Pure.
bool follow_on(std::vector<batch_position>& into, const std::vector<batch_position>& more);

// Keeps a partition's batches in order at the writer: after a write of some partitions was
// handed back to be sent again, a later batch of those partitions waits (is handed back too)
// until the earlier one is written, so the stored position never passes rows that are not
// stored. A batch of a newer epoch (a new claim) ends the wait. One thread.
class position_holds {
 public:
  // A write of `positions` was handed back with retry.
  void failed(const std::vector<batch_position>& positions);
  // A write of `positions` ended (stored, or refused for good): the holds it covers end.
  void done(const std::vector<batch_position>& positions);
  // Whether a batch read at `positions` must wait for an earlier one of its partitions.
  bool must_wait(const std::vector<batch_position>& positions);
  bool empty() const { return held_.empty(); }

 private:
  using key = std::tuple<std::string, std::string, int32_t>;  // group, topic, partition
  std::map<key, std::pair<int64_t, int64_t>> held_;           // first offset, epoch
};

}  // namespace isitup::pg
