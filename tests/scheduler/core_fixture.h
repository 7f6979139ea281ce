// A scheduler core as the daemon holds it, for tests: a SQLite state store
// in a scratch directory of the test's own, a launcher that starts nothing,
// and the core over both, which a test can restart on the same state.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>  // mkdtemp

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>

#include "scheduler/core/topology.h"
#include "scheduler/service/scheduler_core.h"
#include "scheduler/store/state_store.h"
#include "tests/scheduler/fake_launcher.h"

namespace meridian::scheduler {

// A test sets cluster_ and options_ (and may override WrapStore) before
// StartCore(), then works through core_, store_ and launcher_.
// launcher_.Exit(id, code) reaches whichever core is running, since a core
// makes itself its launcher's exit callback. `LauncherT` is FakeLauncher or
// a class derived from it.
template <typename LauncherT>
class BasicCoreFixture : public ::testing::Test {
 protected:
  BasicCoreFixture() : dir_(MakeScratchDir()) {}
  // Runs once derived fixtures' members (servers and services over core_)
  // are destroyed: the core goes first, then its store, the directory last.
  ~BasicCoreFixture() override {
    StopCore();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // Opens the state store in dir_ and recovers a core over it, as the daemon
  // does at start-up. REQUIRES: no core is running (StopCore first).
  void StartCore() {
    Result<std::unique_ptr<StateStore>> sqlite = OpenSqliteStateStore(dir_.string());
    ASSERT_TRUE(sqlite.ok()) << sqlite.status().ToString();
    store_ = WrapStore(std::move(sqlite).value());
    core_ = std::make_unique<SchedulerCore>(cluster_, store_.get(), &launcher_, options_);
    const Status recovered = core_->Recover();
    ASSERT_TRUE(recovered.ok()) << recovered.ToString();
  }

  // Closes the core, then its store; what the store committed stays in dir_.
  void StopCore() {
    core_.reset();
    store_.reset();
  }

  // A daemon killed and started again on the same state directory: a new
  // core knows only what the store kept. launcher_ is the same object, so
  // what it launched is there for the new core's Reattach.
  void RestartCore() {
    StopCore();
    StartCore();
  }

  // The store the core is given, made from the SQLite store each time the
  // core starts; a test overrides this to put a fault-injecting store between.
  virtual std::unique_ptr<StateStore> WrapStore(std::unique_ptr<StateStore> sqlite) { return sqlite; }

  Topology cluster_ = DefaultCluster(4);
  SchedulerCoreOptions options_;
  // Created with the fixture and removed with it; no other test, nor the
  // same test run from another build tree at the same time, shares it.
  const std::filesystem::path dir_;
  LauncherT launcher_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<SchedulerCore> core_;

 private:
  static std::filesystem::path MakeScratchDir() {
    const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string(test->test_suite_name()) + "." + test->name();
    std::replace(name.begin(), name.end(), '/', '_');  // parameterized tests' names
    std::string path = (std::filesystem::path(::testing::TempDir()) / (name + ".XXXXXX")).string();
    if (mkdtemp(path.data()) == nullptr) ADD_FAILURE() << "mkdtemp " << path << ": " << std::strerror(errno);
    return path;
  }
};

using CoreFixture = BasicCoreFixture<FakeLauncher>;

}  // namespace meridian::scheduler
