#include "sim/plot.h"

#include <algorithm>
#include <cstdio>

namespace meridian::sim {

namespace {

constexpr const char* kColours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                    "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};
constexpr double kWidth = 900, kPanel = 300, kLeft = 70, kRight = 40, kTop = 40, kGap = 90;
constexpr int kSamples = 600;  // points per line

std::string Fmt(const char* format, double v) {
  char text[64];
  std::snprintf(text, sizeof text, format, v);
  return text;
}

std::string Escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

// One panel: a frame, axis labels and ticks, and a polyline per series of
// (x, y) points in data units.
class Panel {
 public:
  Panel(double top, std::string title, std::string x_label, double x_max, std::string y_label, double y_max)
      : top_(top), x_max_(x_max > 0 ? x_max : 1), y_max_(y_max > 0 ? y_max : 1) {
    const double w = kWidth - kLeft - kRight;
    out_ += "<text x=\"" + Fmt("%.0f", kLeft) + "\" y=\"" + Fmt("%.0f", top - 12) +
            "\" font-size=\"15\" font-weight=\"bold\">" + title + "</text>\n";
    out_ += "<rect x=\"" + Fmt("%.0f", kLeft) + "\" y=\"" + Fmt("%.0f", top) + "\" width=\"" + Fmt("%.0f", w) +
            "\" height=\"" + Fmt("%.0f", kPanel) + "\" fill=\"none\" stroke=\"#444\"/>\n";
    for (int i = 0; i <= 4; ++i) {
      const double fx = kLeft + w * i / 4, fy = top + kPanel - kPanel * i / 4;
      out_ += "<text x=\"" + Fmt("%.1f", fx) + "\" y=\"" + Fmt("%.1f", top + kPanel + 16) +
              "\" font-size=\"11\" text-anchor=\"middle\">" + Fmt("%.3g", x_max_ * i / 4) + "</text>\n";
      out_ += "<text x=\"" + Fmt("%.1f", kLeft - 6) + "\" y=\"" + Fmt("%.1f", fy + 4) +
              "\" font-size=\"11\" text-anchor=\"end\">" + Fmt("%.3g", y_max_ * i / 4) + "</text>\n";
      out_ += "<line x1=\"" + Fmt("%.0f", kLeft) + "\" x2=\"" + Fmt("%.0f", kLeft + w) + "\" y1=\"" +
              Fmt("%.1f", fy) + "\" y2=\"" + Fmt("%.1f", fy) + "\" stroke=\"#ddd\"/>\n";
    }
    out_ += "<text x=\"" + Fmt("%.0f", kLeft + w / 2) + "\" y=\"" + Fmt("%.0f", top + kPanel + 34) +
            "\" font-size=\"12\" text-anchor=\"middle\">" + x_label + "</text>\n";
    out_ += "<text x=\"16\" y=\"" + Fmt("%.0f", top + kPanel / 2) + "\" font-size=\"12\" transform=\"rotate(-90 16 " +
            Fmt("%.0f", top + kPanel / 2) + ")\" text-anchor=\"middle\">" + y_label + "</text>\n";
  }

  void Line(const std::vector<std::pair<double, double>>& points, const char* colour) {
    const double w = kWidth - kLeft - kRight;
    std::string p;
    for (const auto& [x, y] : points) {
      const double px = kLeft + w * std::clamp(x / x_max_, 0.0, 1.0);
      const double py = top_ + kPanel - kPanel * std::clamp(y / y_max_, 0.0, 1.0);
      p += Fmt("%.1f", px) + "," + Fmt("%.1f", py) + " ";
    }
    out_ += "<polyline fill=\"none\" stroke=\"" + std::string(colour) + "\" stroke-width=\"1.5\" points=\"" + p +
            "\"/>\n";
  }

  const std::string& svg() const { return out_; }

 private:
  double top_, x_max_, y_max_;
  std::string out_;
};

// Utilisation at evenly spaced times (the step function's value there).
std::vector<std::pair<double, double>> Utilisation(const SimulationResult& r, double end_s) {
  std::vector<std::pair<double, double>> out;
  size_t i = 0;
  for (int k = 0; k <= kSamples; ++k) {
    const double t = end_s * k / kSamples;
    while (i + 1 < r.timeline.size() && r.timeline[i + 1].t_s <= t) ++i;
    out.emplace_back(t / 3600, r.total_gpus > 0 ? (double)r.timeline[i].busy_gpus / r.total_gpus : 0);
  }
  return out;
}

std::vector<double> Waits(const SimulationResult& r) {
  std::vector<double> waits;
  for (const JobOutcome& j : r.jobs)
    if (j.start_s >= 0) waits.push_back((j.start_s - j.submit_s) / 3600);
  std::sort(waits.begin(), waits.end());
  return waits;
}

}  // namespace

std::string PlotSvg(const std::vector<std::pair<std::string, const SimulationResult*>>& runs) {
  double end_s = 0, max_wait_h = 0;
  for (const auto& [name, r] : runs) {
    for (const JobOutcome& j : r->jobs) end_s = std::max(end_s, j.end_s);
    const std::vector<double> w = Waits(*r);
    if (!w.empty()) max_wait_h = std::max(max_wait_h, w.back());
  }
  const double height = kTop + 2 * kPanel + kGap + 60 + 18.0 * runs.size();
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + Fmt("%.0f", kWidth) + "\" height=\"" +
                    Fmt("%.0f", height) + "\" font-family=\"sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  Panel util(kTop, "GPU utilisation over time", "hours", end_s / 3600, "busy GPUs / all", 1.0);
  Panel cdf(kTop + kPanel + kGap, "Queueing delay (CDF)", "hours from submit to start", max_wait_h,
            "share of jobs", 1.0);
  for (size_t k = 0; k < runs.size(); ++k) {
    const char* colour = kColours[k % std::size(kColours)];
    util.Line(Utilisation(*runs[k].second, end_s), colour);
    const std::vector<double> w = Waits(*runs[k].second);
    std::vector<std::pair<double, double>> points;
    for (int s = 0; s <= kSamples && !w.empty(); ++s) {
      const size_t i = std::min(w.size() - 1, (size_t)((w.size() - 1) * s / kSamples));
      points.emplace_back(w[i], (double)(i + 1) / w.size());
    }
    cdf.Line(points, colour);
  }
  svg += util.svg() + cdf.svg();
  double y = kTop + 2 * kPanel + kGap + 50;
  for (size_t k = 0; k < runs.size(); ++k, y += 18) {
    svg += "<rect x=\"" + Fmt("%.0f", kLeft) + "\" y=\"" + Fmt("%.0f", y - 10) + "\" width=\"14\" height=\"4\" fill=\"" +
           kColours[k % std::size(kColours)] + "\"/>\n";
    svg += "<text x=\"" + Fmt("%.0f", kLeft + 20) + "\" y=\"" + Fmt("%.0f", y - 4) + "\" font-size=\"12\">" +
           Escape(runs[k].first) + "</text>\n";
  }
  return svg + "</svg>\n";
}

}  // namespace meridian::sim
