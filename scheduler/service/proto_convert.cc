#include "scheduler/service/proto_convert.h"

#include "proto/enum_words.h"

namespace meridian::scheduler {

v1::Node NodeToProto(const Node& n) {
  v1::Node p;
  p.set_name(n.name);
  p.set_data_center(n.data_center);
  p.set_host(n.host);
  p.set_intra_node_gbps(n.intra_node_gbps);
  p.set_alive(n.alive);
  p.set_last_heartbeat_unix_s(n.last_heartbeat_s);
  p.set_hostname(n.hostname);
  p.set_from_agent(n.from_agent);
  for (const Gpu& g : n.gpus) {
    v1::Gpu* q = p.add_gpus();
    q->set_index(g.index);
    q->set_model(g.model);
    q->set_memory_gb(g.memory_gb);
    q->set_tflops(g.tflops);
  }
  return p;
}

Node NodeFromProto(const v1::Node& p) {
  Node n;
  n.name = p.name();
  n.data_center = p.data_center();
  n.host = p.host().empty() ? "localhost" : p.host();
  if (p.intra_node_gbps() > 0) n.intra_node_gbps = p.intra_node_gbps();
  n.alive = p.alive();
  n.last_heartbeat_s = p.last_heartbeat_unix_s();
  n.hostname = p.hostname();
  n.from_agent = p.from_agent();
  for (const v1::Gpu& q : p.gpus()) {
    Gpu g;
    g.index = q.index();
    g.model = q.model().empty() ? "cpu" : q.model();
    if (q.memory_gb() > 0) g.memory_gb = q.memory_gb();
    if (q.tflops() > 0) g.tflops = q.tflops();
    n.gpus.push_back(g);
  }
  return n;
}

v1::Placement PlacementToProto(const Placement& pl, const Topology& topology) {
  return PlacementToProto(pl, [&](const std::string& name) { return topology.FindNode(name); });
}

v1::Placement PlacementToProto(const Placement& pl, const std::function<const Node*(const std::string&)>& find) {
  v1::Placement p;
  p.set_dp(pl.dp);
  p.set_pp(pl.pp);
  p.set_dp_sync(*ParseEnumWord<v1::DpSync>(DpSyncName(pl.dp_sync), "dp_sync"));  // the same words on both sides
  p.set_predicted_step_s(pl.predicted_step_s);
  p.set_compute_s(pl.compute_s);
  p.set_pipeline_comm_s(pl.pipeline_comm_s);
  p.set_dp_comm_s(pl.dp_comm_s);
  for (double bytes : pl.stage_memory_bytes) p.add_stage_memory_bytes(bytes);
  p.set_wan_window(pl.wan_window);
  if (pl.tuned_diloco) {
    v1::DilocoChoice* d = p.mutable_tuned_diloco();
    d->set_outer_compress(CompressionName(pl.tuned_diloco->compress));
    d->set_fragments(pl.tuned_diloco->fragments);
    d->set_overlap(pl.tuned_diloco->overlap);
  }
  for (const ModePrice& m : pl.modes) {
    v1::ModePrice* out = p.add_modes();
    out->set_mode(m.mode);
    out->set_dp_sync(*ParseEnumWord<v1::DpSync>(DpSyncName(m.dp_sync), "dp_sync"));
    out->set_train_args(m.train_args);
    out->set_predicted_step_s(m.predicted_step_s);
    out->set_dp_comm_s(m.dp_comm_s);
    out->set_wan_bytes_per_step(m.wan_bytes_per_step);
    out->set_chosen(m.chosen);
  }
  for (const RankPlacement& r : pl.ranks) {
    v1::RankAssignment* a = p.add_ranks();
    a->set_rank(r.rank);
    a->set_data_center(r.data_center);
    a->set_node(r.node);
    const Node* node = find(r.node);
    a->set_host(node ? node->host : "localhost");
    a->set_gpu(r.gpu);
    a->set_dp_index(r.dp_index);
    a->set_stage(r.stage);
    a->set_layer_begin(r.layer_begin);
    a->set_layer_end(r.layer_end);
  }
  return p;
}

}  // namespace meridian::scheduler
