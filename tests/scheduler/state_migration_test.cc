// A daemon's state written before device, dtype and dp_sync were enums
// (tests/scheduler/data/README.md says how it was made) opens in this
// version with every word moved into its enum, once; a stored word no
// value has refuses the open and leaves the file as it was.
#include <sqlite3.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "scheduler/store/state_store.h"

// The old file holds the deprecated legacy_ fields; this test reads them.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace meridian::scheduler {
namespace {

namespace fs = std::filesystem;

// A copy of the version 1 state in a fresh directory.
std::string CopyOfVersion1State(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("meridian-migration-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(fs::path(MERIDIAN_SOURCE_DIR) / "tests/scheduler/data/state_schema_v1.db", dir / "state.db");
  return dir.string();
}

std::string SchemaVersion(const std::string& dir) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open((dir + "/state.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  std::string version;
  if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key='schema_version'", -1, &st, nullptr) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    version = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  sqlite3_close(db);
  return version;
}

void ExpectUpgraded(const std::vector<v1::Job>& jobs) {
  ASSERT_EQ(jobs.size(), 2u);
  const v1::Job& placed = jobs[0];
  EXPECT_EQ(placed.id(), "job-000001");
  EXPECT_EQ(placed.state(), v1::RUNNING);
  EXPECT_EQ(placed.spec().training().device(), v1::DEVICE_CUDA);
  EXPECT_EQ(placed.spec().training().dtype(), v1::DTYPE_BF16);
  EXPECT_EQ(placed.spec().layout().dp_sync(), v1::DP_SYNC_DILOCO);
  EXPECT_EQ(placed.placement().dp_sync(), v1::DP_SYNC_DILOCO);
  EXPECT_EQ(placed.placement().ranks_size(), 2);
  EXPECT_EQ(placed.spec().training().data(), "/data/train_*.bin");  // the rest as it was
  const v1::Job& queued = jobs[1];
  EXPECT_EQ(queued.id(), "job-000002");
  EXPECT_EQ(queued.state(), v1::QUEUED);
  EXPECT_EQ(queued.spec().training().device(), v1::DEVICE_CPU);
  EXPECT_EQ(queued.spec().training().dtype(), v1::DTYPE_FP32);
  EXPECT_EQ(queued.spec().layout().dp_sync(), v1::DP_SYNC_HIERARCHICAL);
  EXPECT_FALSE(queued.has_placement());
  for (const v1::Job& job : jobs) {
    EXPECT_TRUE(job.spec().training().legacy_device().empty());
    EXPECT_TRUE(job.spec().training().legacy_dtype().empty());
    EXPECT_TRUE(job.spec().layout().legacy_dp_sync().empty());
    EXPECT_TRUE(job.placement().legacy_dp_sync().empty());
  }
}

TEST(StateMigration, AVersion1StateOpensWithItsWordsAsEnums) {
  const std::string dir = CopyOfVersion1State("words");
  ASSERT_EQ(SchemaVersion(dir), "1");
  {
    auto store = OpenSqliteStateStore(dir);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto jobs = (*store)->ListJobs();
    ASSERT_TRUE(jobs.ok()) << jobs.status().ToString();
    ExpectUpgraded(*jobs);
    // Events and the job counter come along untouched.
    auto events = (*store)->ListEvents("job-000001", 0);
    ASSERT_TRUE(events.ok());
    EXPECT_FALSE(events->empty());
    EXPECT_EQ(*(*store)->NextJobNumber(), 3);
  }
  EXPECT_EQ(SchemaVersion(dir), "2");
  // Written back: a second open reads the enums without migrating again.
  auto again = OpenSqliteStateStore(dir);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  ExpectUpgraded(*(*again)->ListJobs());
  fs::remove_all(dir);
}

TEST(StateMigration, AStoredWordNoValueHasRefusesTheOpenAndChangesNothing) {
  const std::string dir = CopyOfVersion1State("bad-word");
  // Job 2's device becomes a word no Device has, as a hand-edited or
  // corrupted file might hold.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir + "/state.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT data FROM jobs WHERE id='job-000002'", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  v1::Job job;
  ASSERT_TRUE(job.ParseFromArray(sqlite3_column_blob(st, 0), sqlite3_column_bytes(st, 0)));
  sqlite3_finalize(st);
  job.mutable_spec()->mutable_training()->set_legacy_device("tpu");
  const std::string blob = job.SerializeAsString();
  ASSERT_EQ(sqlite3_prepare_v2(db, "UPDATE jobs SET data=?1 WHERE id='job-000002'", -1, &st, nullptr), SQLITE_OK);
  sqlite3_bind_blob(st, 1, blob.data(), (int)blob.size(), SQLITE_TRANSIENT);
  ASSERT_EQ(sqlite3_step(st), SQLITE_DONE);
  sqlite3_finalize(st);
  sqlite3_close(db);

  auto store = OpenSqliteStateStore(dir);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("job job-000002: spec.training.device: 'tpu' (expected cpu or cuda)"),
            std::string::npos)
      << store.status().message();
  EXPECT_EQ(SchemaVersion(dir), "1");  // the migration rolled back: job 1 kept its words too
  fs::remove_all(dir);
}

}  // namespace
}  // namespace meridian::scheduler
