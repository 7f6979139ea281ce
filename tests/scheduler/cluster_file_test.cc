// The cluster file and the built-in default cluster.
#include <gtest/gtest.h>

#include <string>

#include "scheduler/core/synthetic_cluster.h"
#include "scheduler/core/topology.h"

namespace meridian::scheduler {
namespace {

const char* kGood = R"(
default_inter_dc_gbps: 5
default_inter_dc_latency_ms: 70
data_centers:
  - name: east
    fabric_gbps: 400
    fabric_latency_us: 4
    nodes:
      - {name: east-0, host: 10.0.0.1, gpus: 8, gpu_model: H200, gpu_memory_gb: 141, gpu_tflops: 989, nvlink_gbps: 7200}
      - {name: east-1, gpus: 2}
  - name: west
    nodes:
      - {name: west-0, gpus: 4, gpu_model: A100, gpu_memory_gb: 80, gpu_tflops: 312, nvlink_latency_us: 3}
  - name: south
links:
  - {a: east, b: west, gbps: 100, latency_ms: 30}
)";

// Parses `text` and returns the error message ("" when it parsed).
std::string ErrorOf(const std::string& text) {
  Result<Topology> t = ParseClusterYaml(text, "cluster.yaml");
  if (t.ok()) return "";
  EXPECT_EQ(t.status().code(), Status::Code::kInvalidArgument) << t.status().ToString();
  return t.status().message();
}

TEST(ClusterFile, ParsesEveryField) {
  Result<Topology> t = ParseClusterYaml(kGood, "cluster.yaml");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  ASSERT_EQ(t->data_centers.size(), 3u);
  ASSERT_EQ(t->nodes.size(), 3u);
  EXPECT_EQ(t->default_inter_dc_gbps, 5);
  EXPECT_EQ(t->default_inter_dc_latency_ms, 70);
  EXPECT_EQ(t->data_centers[0].fabric_gbps, 400);
  EXPECT_EQ(t->data_centers[0].fabric_latency_us, 4);
  const Node* e0 = t->FindNode("east-0");
  ASSERT_NE(e0, nullptr);
  EXPECT_EQ(e0->data_center, "east");
  EXPECT_EQ(e0->host, "10.0.0.1");
  EXPECT_EQ(e0->intra_node_gbps, 7200);
  ASSERT_EQ(e0->gpus.size(), 8u);
  EXPECT_EQ(e0->gpus[7].index, 7);
  EXPECT_EQ(e0->gpus[7].model, "H200");
  EXPECT_EQ(e0->gpus[7].memory_gb, 141);
  EXPECT_EQ(e0->gpus[7].tflops, 989);
  const Node* e1 = t->FindNode("east-1");
  ASSERT_NE(e1, nullptr);
  EXPECT_EQ(e1->host, "localhost");  // the default
  EXPECT_EQ(e1->gpus.size(), 2u);
  EXPECT_EQ(t->FindNode("west-0")->intra_node_latency_us, 3);
  ASSERT_EQ(t->links.size(), 1u);
  EXPECT_EQ(t->links[0].gbps, 100);
  EXPECT_EQ(t->TotalGpus(), 14);
}

TEST(ClusterFile, LinksAreFoundInEitherOrderAndDefaultOtherwise) {
  Result<Topology> t = ParseClusterYaml(kGood, "cluster.yaml");
  ASSERT_TRUE(t.ok());
  const Node& e0 = *t->FindNode("east-0");
  const Node& e1 = *t->FindNode("east-1");
  const Node& w0 = *t->FindNode("west-0");
  EXPECT_EQ(t->LinkGbps(e0, e0), 7200);
  EXPECT_DOUBLE_EQ(t->LinkLatencyS(e0, e0), 2e-6);
  EXPECT_EQ(t->LinkGbps(e0, e1), 400);
  EXPECT_DOUBLE_EQ(t->LinkLatencyS(e0, e1), 4e-6);
  EXPECT_EQ(t->LinkGbps(w0, e1), 100);
  EXPECT_DOUBLE_EQ(t->LinkLatencyS(e1, w0), 0.030);
  Node s0;
  s0.name = "south-0";
  s0.data_center = "south";
  EXPECT_EQ(t->LinkGbps(s0, w0), 5);
  EXPECT_DOUBLE_EQ(t->LinkLatencyS(s0, w0), 0.070);
}

TEST(ClusterFile, TotalGpusCountsOnlyAliveNodesUnlessAsked) {
  Result<Topology> t = ParseClusterYaml(kGood, "cluster.yaml");
  ASSERT_TRUE(t.ok());
  t->nodes[0].alive = false;
  EXPECT_EQ(t->TotalGpus(), 6);
  EXPECT_EQ(t->TotalGpus(false), 14);
}

TEST(ClusterFile, ErrorsNameFileFieldAndValue) {
  EXPECT_EQ(ErrorOf("data_centers:\n  - {name: a, nodes: [{name: a0, gpus: 1}]}\n"
                    "  - {name: b, nodes: [{name: b0, gpus: -2}]}\n"),
            "cluster.yaml: data_centers[1].nodes[0].gpus = -2: must be >= 1");
  EXPECT_EQ(ErrorOf("data_centers: [{name: a, nodes: [{name: a0, gpus: two}]}]"),
            "cluster.yaml: data_centers[0].nodes[0].gpus = two: must be an integer");
  EXPECT_EQ(ErrorOf("data_centers: [{name: a, nodes: [{name: a0, gpus: 1, gpu_memory_gb: 0}]}]"),
            "cluster.yaml: data_centers[0].nodes[0].gpu_memory_gb = 0: must be > 0");
  EXPECT_EQ(ErrorOf("data_centers: [{name: a, fabric_gbps: fast}]"),
            "cluster.yaml: data_centers[0].fabric_gbps = fast: must be a number");
  EXPECT_EQ(ErrorOf("data_centers: [{name: a}]\ndefault_inter_dc_latency_ms: -1"),
            "cluster.yaml: default_inter_dc_latency_ms = -1: must be >= 0");
}

TEST(ClusterFile, MissingNamesAndCountsAreErrors) {
  EXPECT_EQ(ErrorOf("data_centers: [{nodes: []}]"),
            "cluster.yaml: data_centers[0].name: missing (every entry needs a name)");
  EXPECT_EQ(ErrorOf("data_centers: [{name: a, nodes: [{gpus: 1}]}]"),
            "cluster.yaml: data_centers[0].nodes[0].name: missing (every entry needs a name)");
  EXPECT_NE(ErrorOf("data_centers: [{name: a, nodes: [{name: a0}]}]").find("data_centers[0].nodes[0].gpus: missing"),
            std::string::npos);
  EXPECT_NE(ErrorOf("links: []").find("data_centers: missing"), std::string::npos);
  EXPECT_NE(ErrorOf("data_centers: []").find("data_centers = <list>: must be a non-empty list"), std::string::npos);
  EXPECT_NE(ErrorOf("data_centers: [{name: \"\"}]").find("data_centers[0].name = \"\": must not be empty"),
            std::string::npos);
  EXPECT_NE(ErrorOf("data_centers: [{name: a b}]").find("data_centers[0].name = \"a b\""), std::string::npos);
}

TEST(ClusterFile, DuplicateNamesAreErrors) {
  EXPECT_EQ(ErrorOf("data_centers:\n  - {name: a, nodes: [{name: n0, gpus: 1}]}\n"
                    "  - {name: b, nodes: [{name: n1, gpus: 1}, {name: n0, gpus: 1}]}\n"),
            "cluster.yaml: data_centers[1].nodes[1].name = n0: duplicate node name");
  EXPECT_EQ(ErrorOf("data_centers: [{name: a}, {name: a}]"),
            "cluster.yaml: data_centers[1].name = a: duplicate data center name");
}

TEST(ClusterFile, LinksMustJoinTwoKnownDataCentersOnce) {
  const std::string dcs = "data_centers: [{name: a}, {name: b}]\n";
  EXPECT_EQ(ErrorOf(dcs + "links: [{a: a, b: mars, gbps: 1}]"), "cluster.yaml: links[0].b = mars: unknown data center");
  EXPECT_NE(ErrorOf(dcs + "links: [{a: a, b: a, gbps: 1}]").find("links[0].b = a: a link must join two different"),
            std::string::npos);
  EXPECT_NE(ErrorOf(dcs + "links: [{a: a, b: b}]").find("links[0].gbps: missing"), std::string::npos);
  EXPECT_NE(ErrorOf(dcs + "links: [{a: a, b: b, gbps: 1}, {a: b, b: a, gbps: 2}]").find("links[1] = b-a: duplicate link"),
            std::string::npos);
  EXPECT_NE(ErrorOf(dcs + "links: {a: a}").find("links = <map>: must be a list"), std::string::npos);
}

TEST(ClusterFile, UnknownFieldsAreErrors) {
  EXPECT_NE(ErrorOf("data_centers: [{name: a, nodes: [{name: a0, gpus: 1, gpu_mem: 80}]}]")
                .find("cluster.yaml: data_centers[0].nodes[0].gpu_mem: unknown field (expected name, host, gpus"),
            std::string::npos);
  EXPECT_NE(ErrorOf("data_centres: []").find("cluster.yaml: data_centres: unknown field"), std::string::npos);
}

TEST(ClusterFile, SyntaxErrorsGiveTheLine) {
  const std::string e = ErrorOf("data_centers:\n  - {name: a\n");
  EXPECT_EQ(e.rfind("cluster.yaml: line ", 0), 0u) << e;
  EXPECT_NE(ErrorOf("").find("cluster.yaml: the cluster file is empty"), std::string::npos);
  EXPECT_NE(ErrorOf("[1, 2]").find("the top level: must be a map"), std::string::npos);
}

TEST(ClusterFile, MissingFileIsAnIOError) {
  Result<Topology> t = LoadClusterFile("/nonexistent/cluster.yaml");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), Status::Code::kIOError);
  EXPECT_NE(t.status().message().find("/nonexistent/cluster.yaml"), std::string::npos);
}

TEST(ClusterFile, ExampleClusterLoads) {
  Result<Topology> t = LoadClusterFile(std::string(MERIDIAN_SOURCE_DIR) + "/examples/cluster.yaml");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->data_centers.size(), 3u);
  EXPECT_EQ(t->links.size(), 3u);
  EXPECT_GE(t->TotalGpus(), 64);
}

TEST(DefaultCluster, IsTwoDataCentersWithASlowLink) {
  const Topology t = DefaultCluster(3);
  ASSERT_EQ(t.data_centers.size(), 2u);
  ASSERT_EQ(t.nodes.size(), 2u);
  const Node* east = t.FindNode("east-0");
  const Node* west = t.FindNode("west-0");
  ASSERT_NE(east, nullptr);
  ASSERT_NE(west, nullptr);
  EXPECT_EQ(east->data_center, "dc-east");
  EXPECT_EQ(west->data_center, "dc-west");
  EXPECT_EQ(east->host, "localhost");
  ASSERT_EQ(east->gpus.size(), 3u);
  EXPECT_EQ(east->gpus[2].index, 2);
  EXPECT_EQ(east->gpus[0].model, "cpu");
  EXPECT_EQ(east->gpus[0].memory_gb, 4.0);
  EXPECT_EQ(east->gpus[0].tflops, 0.1);
  EXPECT_EQ(t.FindDataCenter("dc-east")->fabric_gbps, 100.0);
  EXPECT_EQ(t.LinkGbps(*east, *west), 1.0);
  EXPECT_DOUBLE_EQ(t.LinkLatencyS(*east, *west), 0.020);
  EXPECT_EQ(t.TotalGpus(), 6);
}

TEST(DefaultCluster, MatchesTheSpelledOutExample) {
  Result<Topology> file = LoadClusterFile(std::string(MERIDIAN_SOURCE_DIR) + "/examples/cluster-local.yaml");
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  const Topology def = DefaultCluster(4);
  ASSERT_EQ(file->nodes.size(), def.nodes.size());
  for (size_t i = 0; i < def.nodes.size(); ++i) {
    const Node &a = file->nodes[i], &b = def.nodes[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.data_center, b.data_center);
    EXPECT_EQ(a.host, b.host);
    EXPECT_EQ(a.intra_node_gbps, b.intra_node_gbps);
    EXPECT_EQ(a.intra_node_latency_us, b.intra_node_latency_us);
    ASSERT_EQ(a.gpus.size(), b.gpus.size());
    for (size_t g = 0; g < a.gpus.size(); ++g) {
      EXPECT_EQ(a.gpus[g].index, b.gpus[g].index);
      EXPECT_EQ(a.gpus[g].model, b.gpus[g].model);
      EXPECT_EQ(a.gpus[g].memory_gb, b.gpus[g].memory_gb);
      EXPECT_EQ(a.gpus[g].tflops, b.gpus[g].tflops);
    }
  }
  for (size_t i = 0; i < def.data_centers.size(); ++i) {
    EXPECT_EQ(file->data_centers[i].name, def.data_centers[i].name);
    EXPECT_EQ(file->data_centers[i].fabric_gbps, def.data_centers[i].fabric_gbps);
    EXPECT_EQ(file->data_centers[i].fabric_latency_us, def.data_centers[i].fabric_latency_us);
  }
  EXPECT_EQ(file->LinkGbps(file->nodes[0], file->nodes[1]), def.LinkGbps(def.nodes[0], def.nodes[1]));
  EXPECT_EQ(file->LinkLatencyS(file->nodes[0], file->nodes[1]), def.LinkLatencyS(def.nodes[0], def.nodes[1]));
}

TEST(SyntheticCluster, LinksDataCentersInsideARegion) {
  SyntheticClusterSpec spec;
  spec.data_centers = 5;
  spec.nodes_per_dc = 2;
  spec.gpus_per_node = 4;
  spec.region_size = 2;
  const Topology t = SyntheticCluster(spec);
  EXPECT_EQ(t.TotalGpus(), 40);
  EXPECT_EQ(t.links.size(), 2u);  // dc-000/dc-001 and dc-002/dc-003
  EXPECT_EQ(t.LinkGbps(*t.FindNode("dc-000-n000"), *t.FindNode("dc-001-n001")), spec.region_gbps);
  EXPECT_EQ(t.LinkGbps(*t.FindNode("dc-001-n000"), *t.FindNode("dc-002-n000")), spec.inter_dc_gbps);
}

}  // namespace
}  // namespace meridian::scheduler

namespace meridian::scheduler {
namespace {

TEST(ClusterFile, LaunchersAgentsAndLaunchOptions) {
  Result<Topology> t = ParseClusterYaml(R"(
launch:
  ssh_config: /etc/meridian/ssh_config
  network: 10.78.0.0/16
  ports: 47000-47999
  mca: {btl_tcp_links: 2}
  env: [OMP_NUM_THREADS=1, LD_LIBRARY_PATH]
  job_root: /shared/meridian
data_centers:
  - name: a
    launcher: ssh
    nodes: [{name: a0, gpus: 1, agent: true}, {name: a1, gpus: 1, host: 10.78.1.3}]
  - name: s
    launcher: slurm
    slurm: {conf: /etc/slurm/slurm.conf, partition: gpu}
  - name: l
)",
                                        "cluster.yaml");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->launch.ssh_config, "/etc/meridian/ssh_config");
  EXPECT_EQ(t->launch.network, "10.78.0.0/16");
  EXPECT_EQ(t->launch.port_min, 47000);
  EXPECT_EQ(t->launch.port_count, 1000);
  EXPECT_EQ(t->launch.mca.at("btl_tcp_links"), "2");
  EXPECT_EQ(t->launch.env, (std::vector<std::string>{"OMP_NUM_THREADS=1", "LD_LIBRARY_PATH"}));
  EXPECT_EQ(t->launch.job_root, "/shared/meridian");
  EXPECT_EQ(t->FindDataCenter("a")->launcher, LauncherKind::kSsh);
  EXPECT_EQ(t->FindDataCenter("s")->launcher, LauncherKind::kSlurm);
  EXPECT_EQ(t->FindDataCenter("s")->slurm_conf, "/etc/slurm/slurm.conf");
  EXPECT_EQ(t->FindDataCenter("s")->slurm_partition, "gpu");
  EXPECT_EQ(t->FindDataCenter("l")->launcher, LauncherKind::kLocal);
  // A node that waits for its agent is not alive until the agent registers.
  EXPECT_TRUE(t->nodes[0].wait_for_agent);
  EXPECT_FALSE(t->nodes[0].alive);
  EXPECT_TRUE(t->nodes[1].alive);
}

TEST(ClusterFile, LaunchErrorsNameTheField) {
  EXPECT_EQ(ErrorOf("data_centers: [{name: a, launcher: pbs}]"),
            "cluster.yaml: data_centers[0].launcher = pbs: expected local, ssh or slurm");
  EXPECT_EQ(ErrorOf("data_centers: [{name: a, launcher: ssh, slurm: {conf: /x}}]"),
            "cluster.yaml: data_centers[0].slurm = <map>: only for a data center with launcher: slurm");
  EXPECT_EQ(ErrorOf("data_centers: [{name: a, launcher: slurm, slurm: {conf: slurm.conf}}]"),
            "cluster.yaml: data_centers[0].slurm.conf = \"slurm.conf\": must be an absolute path");
  EXPECT_EQ(ErrorOf("launch: {network: 10.0.0.0}\ndata_centers: [{name: a}]"),
            "cluster.yaml: launch.network = 10.0.0.0: must be an IPv4 network such as 10.0.0.0/16");
  EXPECT_EQ(ErrorOf("launch: {ports: 80-90}\ndata_centers: [{name: a}]"),
            "cluster.yaml: launch.ports = 80-90: must be a range FIRST-LAST within 1024-65535");
  EXPECT_EQ(ErrorOf("launch: {env: [\"A B=1\"]}\ndata_centers: [{name: a}]"),
            "cluster.yaml: launch.env[0] = A B=1: must be NAME or NAME=VALUE");
  EXPECT_EQ(ErrorOf("launch: {sshconfig: /x}\ndata_centers: [{name: a}]").find("launch.sshconfig: unknown field"), 14u);
  EXPECT_EQ(ErrorOf("data_centers: [{name: a, nodes: [{name: a0, gpus: 1, agent: maybe}]}]"),
            "cluster.yaml: data_centers[0].nodes[0].agent = maybe: must be true or false");
}

TEST(ClusterFile, AgentRulesAreReadAndTheirErrorsNamed) {
  auto topo = ParseClusterYaml("data_centers: [{name: a}]\nagents: [{name: \"gpu-*\", data_center: a, max_gpus: 4}]",
                               "cluster.yaml");
  ASSERT_TRUE(topo.ok()) << topo.status().ToString();
  ASSERT_EQ(topo->agent_rules.size(), 1u);
  EXPECT_EQ(topo->agent_rules[0].name_pattern, "gpu-*");
  EXPECT_EQ(topo->agent_rules[0].max_gpus, 4);
  EXPECT_FALSE(topo->open_to_agents);
  EXPECT_EQ(ErrorOf("data_centers: [{name: a}]\nagents: [{name: x, data_center: b}]"),
            "cluster.yaml: agents[0].data_center = b: is not a data center of this file");
  EXPECT_EQ(ErrorOf("data_centers: [{name: a}]\nagents: [{name: x, data_center: a, max_gpus: 65}]"),
            "cluster.yaml: agents[0].max_gpus = 65: must be <= 64");
  EXPECT_NE(ErrorOf("data_centers: [{name: a}]\nagents: [{name: \"x;y\", data_center: a}]").find("agents[0].name"),
            std::string::npos);
  EXPECT_NE(ErrorOf("data_centers: [{name: a}]\nagents: [{data_center: a}]").find("agents[0].name"), std::string::npos);
}

}  // namespace
}  // namespace meridian::scheduler
