#include <sqlite3.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "scheduler/store/legacy_fields.h"
#include "scheduler/store/state_store.h"

namespace meridian::scheduler {

namespace {

// 1: device, dtype and dp_sync as words. 2: as enums (legacy_fields.h).
constexpr int kSchemaVersion = 2;

const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS nodes (name TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
  number INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT UNIQUE NOT NULL,
  data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS events (
  job_id TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (job_id, sequence));
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
)sql";

class SqliteStateStore : public StateStore {
 public:
  SqliteStateStore(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  ~SqliteStateStore() override { sqlite3_close(db_); }

  Status Init() {
    MERIDIAN_RETURN_IF_ERROR(Exec("PRAGMA journal_mode=WAL"));
    MERIDIAN_RETURN_IF_ERROR(Exec("PRAGMA synchronous=FULL"));
    MERIDIAN_RETURN_IF_ERROR(Exec("PRAGMA busy_timeout=5000"));
    MERIDIAN_RETURN_IF_ERROR(Exec(kSchema));
    // Schema version: set on a new database, checked on an old one.
    sqlite3_stmt* st = nullptr;
    MERIDIAN_RETURN_IF_ERROR(Prepare("SELECT value FROM meta WHERE key='schema_version'", &st));
    int version = -1;
    if (sqlite3_step(st) == SQLITE_ROW) version = std::atoi((const char*)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (version == -1) {
      return Exec("INSERT INTO meta(key, value) VALUES('schema_version', '" + std::to_string(kSchemaVersion) + "')");
    }
    if (version > kSchemaVersion) {
      return Status::FailedPrecondition(path_ + ": schema version " + std::to_string(version) +
                                        " is newer than this daemon's " + std::to_string(kSchemaVersion));
    }
    if (version == 1) return MigrateFromVersion1();
    return Status::OK();
  }

  // Every stored job's words become enums, and the version 2, in one
  // transaction: a job that cannot be read leaves the file as it was.
  Status MigrateFromVersion1() {
    MERIDIAN_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
    Result<std::vector<v1::Job>> jobs = ListBlobs<v1::Job>("SELECT data FROM jobs ORDER BY number", "");
    Status s = jobs.status();
    for (size_t i = 0; s.ok() && i < jobs->size(); ++i) {
      v1::Job& job = (*jobs)[i];
      s = UpgradeLegacyFields(&job);
      if (!s.ok()) {
        s = Status::Corruption(path_ + ": job " + job.id() + ": " + s.message());
        break;
      }
      s = PutBlob("UPDATE jobs SET data=?2 WHERE id=?1", job.id(), job);
    }
    if (s.ok()) s = Exec("UPDATE meta SET value='2' WHERE key='schema_version'");
    if (!s.ok()) {
      (void)Exec("ROLLBACK");
      return s;
    }
    return Exec("COMMIT");
  }

  Status PutNode(const v1::Node& node) override {
    std::lock_guard<std::mutex> lock(mu_);
    return PutBlob("INSERT OR REPLACE INTO nodes(name, data) VALUES(?1, ?2)", node.name(), node);
  }

  Status DeleteNode(const std::string& name) override {
    std::lock_guard<std::mutex> lock(mu_);
    sqlite3_stmt* st = nullptr;
    MERIDIAN_RETURN_IF_ERROR(Prepare("DELETE FROM nodes WHERE name=?1", &st));
    sqlite3_bind_text(st, 1, name.c_str(), -1, SQLITE_TRANSIENT);
    return StepDone(st, "delete node");
  }

  Result<std::vector<v1::Node>> ListNodes() override {
    std::lock_guard<std::mutex> lock(mu_);
    return ListBlobs<v1::Node>("SELECT data FROM nodes ORDER BY name", "");
  }

  Status PutJob(const v1::Job& job, const std::vector<v1::JobEvent>& events) override {
    std::lock_guard<std::mutex> lock(mu_);
    MERIDIAN_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
    Status s = PutBlob("INSERT INTO jobs(id, data) VALUES(?1, ?2) ON CONFLICT(id) DO UPDATE SET data=excluded.data",
                       job.id(), job);
    for (const v1::JobEvent& event : events) {
      if (!s.ok()) break;
      sqlite3_stmt* st = nullptr;
      s = Prepare("INSERT INTO events(job_id, sequence, data) VALUES(?1, ?2, ?3)", &st);
      if (!s.ok()) break;
      const std::string blob = event.SerializeAsString();
      sqlite3_bind_text(st, 1, job.id().c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(st, 2, event.sequence());
      sqlite3_bind_blob(st, 3, blob.data(), (int)blob.size(), SQLITE_TRANSIENT);
      s = StepDone(st, "insert event");
    }
    if (!s.ok()) {
      (void)Exec("ROLLBACK");
      return s;
    }
    return Exec("COMMIT");
  }

  Result<std::vector<v1::Job>> ListJobs() override {
    std::lock_guard<std::mutex> lock(mu_);
    return ListBlobs<v1::Job>("SELECT data FROM jobs ORDER BY number", "");
  }

  Result<std::vector<v1::JobEvent>> ListEvents(const std::string& job_id, int64_t after) override {
    std::lock_guard<std::mutex> lock(mu_);
    sqlite3_stmt* st = nullptr;
    MERIDIAN_RETURN_IF_ERROR(
        Prepare("SELECT data FROM events WHERE job_id=?1 AND sequence>?2 ORDER BY sequence", &st));
    sqlite3_bind_text(st, 1, job_id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, after);
    return Collect<v1::JobEvent>(st);
  }

  Status FoldEvents(const v1::Job& job, int64_t sequence) override {
    std::lock_guard<std::mutex> lock(mu_);
    MERIDIAN_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
    sqlite3_stmt* st = nullptr;
    Status s = Prepare("DELETE FROM events WHERE job_id=?1 AND sequence<=?2", &st);
    if (s.ok()) {
      sqlite3_bind_text(st, 1, job.id().c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(st, 2, sequence);
      s = StepDone(st, "fold events");
    }
    if (s.ok())
      s = PutBlob("INSERT INTO jobs(id, data) VALUES(?1, ?2) ON CONFLICT(id) DO UPDATE SET data=excluded.data",
                  job.id(), job);
    if (!s.ok()) {
      (void)Exec("ROLLBACK");
      return s;
    }
    return Exec("COMMIT");
  }

  Status DeleteJob(const std::string& job_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    MERIDIAN_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
    Status s;
    for (const char* sql : {"DELETE FROM events WHERE job_id=?1", "DELETE FROM jobs WHERE id=?1"}) {
      sqlite3_stmt* st = nullptr;
      s = Prepare(sql, &st);
      if (!s.ok()) break;
      sqlite3_bind_text(st, 1, job_id.c_str(), -1, SQLITE_TRANSIENT);
      s = StepDone(st, "delete job");
      if (!s.ok()) break;
    }
    if (!s.ok()) {
      (void)Exec("ROLLBACK");
      return s;
    }
    return Exec("COMMIT");
  }

  Result<int64_t> NextJobNumber() override {
    std::lock_guard<std::mutex> lock(mu_);
    MERIDIAN_RETURN_IF_ERROR(Exec(
        "INSERT INTO counters(name, value) VALUES('job', 1) ON CONFLICT(name) DO UPDATE SET value=value+1"));
    sqlite3_stmt* st = nullptr;
    MERIDIAN_RETURN_IF_ERROR(Prepare("SELECT value FROM counters WHERE name='job'", &st));
    int64_t v = 0;
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
  }

 private:
  Status Error(const std::string& what) const {
    return Status::IOError(path_ + ": " + what + ": " + sqlite3_errmsg(db_));
  }
  Status Exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "unknown error";
      sqlite3_free(err);
      return Status::IOError(path_ + ": " + msg + " (in: " + sql.substr(0, 60) + ")");
    }
    return Status::OK();
  }
  Status Prepare(const char* sql, sqlite3_stmt** st) {
    if (sqlite3_prepare_v2(db_, sql, -1, st, nullptr) != SQLITE_OK) return Error("prepare");
    return Status::OK();
  }
  Status StepDone(sqlite3_stmt* st, const char* what) {
    const int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return Error(what);
    return Status::OK();
  }
  Status PutBlob(const char* sql, const std::string& key, const google::protobuf::Message& m) {
    sqlite3_stmt* st = nullptr;
    MERIDIAN_RETURN_IF_ERROR(Prepare(sql, &st));
    const std::string blob = m.SerializeAsString();
    sqlite3_bind_text(st, 1, key.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 2, blob.data(), (int)blob.size(), SQLITE_TRANSIENT);
    return StepDone(st, "write");
  }
  template <typename M>
  Result<std::vector<M>> Collect(sqlite3_stmt* st) {
    std::vector<M> out;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      M m;
      const void* data = sqlite3_column_blob(st, 0);
      const int n = sqlite3_column_bytes(st, 0);
      if (!m.ParseFromArray(data, n)) {
        sqlite3_finalize(st);
        return Status::Corruption(path_ + ": a stored " + M::descriptor()->name() + " does not parse");
      }
      out.push_back(std::move(m));
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return Error("read");
    return out;
  }
  template <typename M>
  Result<std::vector<M>> ListBlobs(const char* sql, const std::string&) {
    sqlite3_stmt* st = nullptr;
    MERIDIAN_RETURN_IF_ERROR(Prepare(sql, &st));
    return Collect<M>(st);
  }

  std::mutex mu_;
  sqlite3* db_;
  std::string path_;
};

}  // namespace

Result<std::unique_ptr<StateStore>> OpenSqliteStateStore(const std::string& dir) {
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    return Status::IOError(dir + ": cannot create state directory: " + std::strerror(errno));
  const std::string path = dir + "/state.db";
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Status::IOError(path + ": cannot open: " + msg);
  }
  auto store = std::make_unique<SqliteStateStore>(db, path);
  MERIDIAN_RETURN_IF_ERROR(store->Init());
  return std::unique_ptr<StateStore>(std::move(store));
}

}  // namespace meridian::scheduler
