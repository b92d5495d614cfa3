#!/usr/bin/env bash
# Runs every pharos test: unit and property tests of each crate, the web
# UI's build check and unit tests, and the end-to-end tests under tests/
# that start the real `pharos` binary (the UI's in headless Chromium).
# Installs what the tests need first (Debian packages via apt-get when
# running as root and something is missing).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v python3 >/dev/null || need+=(python3)
# The host collector's names are checked against the real node_exporter.
[ -x /usr/bin/prometheus-node-exporter ] || need+=(prometheus-node-exporter)
# The scrape tests scrape an app instrumented with the real client library
# (tests/scripts/instrumented_app.py, run by the system Python).
/usr/bin/python3 -c 'import prometheus_client' 2>/dev/null || need+=(python3-prometheus-client)
# The query API and PromQL tests run the real promtool against pharos and
# compare pharos's answers with the real Prometheus's.
[ -x /usr/bin/prometheus ] && [ -x /usr/bin/promtool ] || need+=(prometheus)
# The rule tests send alerts to the real Alertmanager and list them with amtool.
[ -x /usr/bin/prometheus-alertmanager ] && [ -x /usr/bin/amtool ] || need+=(prometheus-alertmanager)
# The email receiver tests deliver to a real SMTP server (aiosmtpd).
/usr/bin/python3 -c "import aiosmtpd" 2>/dev/null || need+=(python3-aiosmtpd)
# The TLS scrape test makes its certificates with the openssl tool.
command -v openssl >/dev/null || need+=(openssl)
# The web UI is tested in a real browser.
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
# ui/build.sh runs binaryen (npm) and compresses with Node.js.
command -v node >/dev/null && command -v npm >/dev/null || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
  else
    echo "tests/run.sh: please install: ${need[*]}" >&2
    exit 1
  fi
fi

# The web UI: rebuilt from source (the toolchain pieces it lacks are
# installed), checked against the committed bundle (stale: fail), and the
# fresh build is what the binary embeds and the browser tests see.
./ui/build.sh --check
cargo test --locked --manifest-path ui/Cargo.toml --lib "$@"

# The end-to-end tests run the binary this build produces.
cargo build --locked -p pharos --bin pharos
cargo test --locked --workspace "$@"
