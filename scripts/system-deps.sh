#!/usr/bin/env bash
# Debian packages used by the test suite (PDF page rendering; Chromium for the stream page's
# browser test): installed when missing and we are root; otherwise the tests that need them
# skip and say why.
set -u
need=()
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${need[*]} (apt-get)" >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"; } \
    >/dev/null 2>&1 || echo "warning: could not install ${need[*]}; tests needing them will skip" >&2
else
  echo "note: ${need[*]} not installed (needs root); tests needing them will skip" >&2
fi
exit 0
