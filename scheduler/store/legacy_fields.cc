#include "scheduler/store/legacy_fields.h"

#include <string>

#include "proto/enum_words.h"

// This file is where the deprecated legacy_ fields may be read.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace meridian::scheduler {

namespace {

// The word `*legacy` as an E, or the value already in `current` when that
// is set.
template <typename E>
Result<E> Upgraded(const std::string& legacy, E current, const char* field) {
  constexpr size_t kMaxWordLength = 64;  // a request's word is bounded before it is echoed
  if (legacy.empty() || static_cast<int>(current) != 0) return current;
  if (legacy.size() > kMaxWordLength)
    return Status::InvalidArgument(std::string(field) + " = (" + std::to_string(legacy.size()) +
                                   " characters): longer than " + std::to_string(kMaxWordLength));
  return ParseEnumWord<E>(legacy, field);
}

}  // namespace

// Reads every legacy word before writing anything, so a bad one leaves the
// message as it was. Absent sub-messages stay absent.
Status UpgradeLegacyFields(v1::JobSpec* spec) {
  const v1::TrainingOptions& t = spec->training();
  const v1::Layout& l = spec->layout();
  MERIDIAN_ASSIGN_OR_RETURN(v1::Device device, Upgraded(t.legacy_device(), t.device(), "spec.training.device"));
  MERIDIAN_ASSIGN_OR_RETURN(v1::DType dtype, Upgraded(t.legacy_dtype(), t.dtype(), "spec.training.dtype"));
  MERIDIAN_ASSIGN_OR_RETURN(v1::DpSync sync, Upgraded(l.legacy_dp_sync(), l.dp_sync(), "spec.layout.dp_sync"));
  if (spec->has_training()) {
    v1::TrainingOptions* mt = spec->mutable_training();
    mt->set_device(device);
    mt->set_dtype(dtype);
    mt->clear_legacy_device();
    mt->clear_legacy_dtype();
  }
  if (spec->has_layout()) {
    spec->mutable_layout()->set_dp_sync(sync);
    spec->mutable_layout()->clear_legacy_dp_sync();
  }
  return Status::OK();
}

Status UpgradeLegacyFields(v1::Job* job) {
  const v1::Placement& p = job->placement();
  MERIDIAN_ASSIGN_OR_RETURN(v1::DpSync sync, Upgraded(p.legacy_dp_sync(), p.dp_sync(), "placement.dp_sync"));
  MERIDIAN_RETURN_IF_ERROR(UpgradeLegacyFields(job->mutable_spec()));
  if (job->has_placement()) {
    job->mutable_placement()->set_dp_sync(sync);
    job->mutable_placement()->clear_legacy_dp_sync();
  }
  return Status::OK();
}

}  // namespace meridian::scheduler
