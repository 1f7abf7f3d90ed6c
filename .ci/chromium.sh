#!/usr/bin/env bash
# CI: install Debian's chromium and chromedriver for tests/export/test_browser.py if missing.
# Where apt-get (or root) is not available it says so and exits 0: the browser test then skips.
set -euo pipefail

packages=(chromium chromium-driver)

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  echo "ci/chromium: already installed ($(/usr/bin/chromium --version 2>/dev/null || echo chromium))"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ci/chromium: no apt-get here; the browser test will skip (install chromium, chromium-driver)"
  exit 0
fi
sudo=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
  else
    echo "ci/chromium: not root and no password-less sudo; the browser test will skip"
    exit 0
  fi
fi
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
echo "ci/chromium: installed $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
