#!/usr/bin/env bash
# Installs Autobahn|Testsuite's `wstest` under target/autobahn/, for
# tests/autobahn/run.sh (which sources this file). Idempotent: what is
# already there is reused.
#
# wstest is Python 2.7 only, and this Debian has no Python 2. So:
#   1. Debian 11 (bullseye) Python 2.7 packages are fetched with
#      `apt-get download` under a private apt configuration (its own source
#      list, lists and cache under target/autobahn/apt, naming the mirror the
#      machine's apt sources already use) and unpacked with `dpkg -x`. The
#      system's apt setup and Python are never touched.
#   2. pip, setuptools and wheel for 2.7 come as wheels downloaded by
#      Python 3's pip; pip then runs from its own wheel file.
#   3. autobahn 0.10.9's dependency set, pinned as upstream pinned it, goes
#      into a private prefix; autobahntestsuite itself with --no-deps.
#
# `ab_install` sets WSTEST: an array, the command that runs wstest (a
# plain command, so that `timeout` can run it).

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  cd "$(dirname "$0")/../.."
fi
# Absolute paths: pip runs builds in other folders.
AB_WORK=${AB_WORK:-$PWD/target/autobahn}
AB_ROOT=$AB_WORK/py27
AB_PREFIX=$AB_WORK/prefix
AB_APT=$AB_WORK/apt
AB_WHEELS=$AB_WORK/wheels
AB_LIBDIR=$AB_ROOT/usr/lib/x86_64-linux-gnu
AB_PYTHON=$AB_ROOT/usr/bin/python2.7
AB_SITE=$AB_PREFIX/lib/python2.7/site-packages

AB_DEBS=(python2.7-minimal libpython2.7-minimal libpython2.7-stdlib python2.7 libffi7 libssl1.1)
# Upstream's pins for autobahn 0.10.9, the version autobahntestsuite
# 25.10.1 was built against; newer releases dropped Python 2.
AB_PINS=(
  txaio==2.1.0 incremental==16.10.1 pyOpenSSL==19.1.0 cryptography==3.3.2
  Twisted==19.10.0 zope.interface==4.6.0 jinja2==2.11.3 markupsafe==1.1.1
  Werkzeug==1.0.1 klein==17.10.0 service_identity==18.1.0 unittest2==1.1.0
  six==1.16.0 'autobahn[twisted]==0.10.9'
)
AB_SUITE=autobahntestsuite==25.10.1

ab_say() { printf 'autobahn: %s\n' "$*"; }

# ab_mirrors: prints the Debian mirror and the security mirror that the
# machine's apt sources use (deb822 `URIs:` lines or one-line `deb` lines);
# the security suite falls back to the main mirror's `-security` twin.
ab_mirrors() {
  local uris main="" security=""
  uris=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources \
    /etc/apt/sources.list.d/*.list 2>/dev/null |
    grep -Eo 'https?://[^ ]+' | sed 's:/*$::' || true)
  main=$(printf '%s\n' "$uris" | grep -E '/debian$' | head -n1 || true)
  security=$(printf '%s\n' "$uris" | grep -E '/debian-security$' | head -n1 || true)
  if [ -z "$main" ]; then
    ab_say "no Debian mirror found in the apt sources (/etc/apt/sources.list*)" >&2
    return 1
  fi
  printf '%s %s\n' "$main" "${security:-$main-security}"
}

# ab_install_python: the bullseye interpreter, unpacked under $AB_ROOT.
ab_install_python() {
  if [ -x "$AB_PYTHON" ] && LD_LIBRARY_PATH=$AB_LIBDIR "$AB_PYTHON" -c 'import ssl, ctypes' 2>/dev/null; then
    return 0
  fi
  local main security keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  read -r main security < <(ab_mirrors) || true
  [ -n "${main:-}" ] || return 1
  ab_say "fetching Debian 11 Python 2.7 from the machine's Debian mirror"
  mkdir -p "$AB_APT/lists/partial" "$AB_APT/cache/archives/partial" "$AB_APT/debs" \
    "$AB_APT/preferences.d" "$AB_ROOT"
  cat >"$AB_APT/sources.list" <<EOF
deb [signed-by=$keyring] $main bullseye main
deb [signed-by=$keyring] $security bullseye-security main
EOF
  : >"$AB_APT/status"
  local apt_opts=(
    -o "Dir::Etc::SourceList=$AB_APT/sources.list"
    -o "Dir::Etc::SourceParts=$AB_APT/none"
    -o "Dir::Etc::PreferencesParts=$AB_APT/preferences.d"
    -o "Dir::State::Lists=$AB_APT/lists"
    -o "Dir::State::status=$AB_APT/status"
    -o "Dir::Cache=$AB_APT/cache"
    -o "APT::Sandbox::User=root"
  )
  apt-get "${apt_opts[@]}" -qq update
  (cd "$AB_APT/debs" && apt-get "${apt_opts[@]}" -qq download "${AB_DEBS[@]}")
  local deb
  for deb in "$AB_APT"/debs/*.deb; do
    dpkg -x "$deb" "$AB_ROOT"
  done
  LD_LIBRARY_PATH=$AB_LIBDIR "$AB_PYTHON" -c 'import ssl, ctypes'
}

# ab_install_suite: pip for 2.7, then the pinned packages into $AB_PREFIX.
ab_install_suite() {
  if [ -f "$AB_WORK/.installed" ] && ab_run_python -c 'import autobahntestsuite' 2>/dev/null; then
    return 0
  fi
  mkdir -p "$AB_WHEELS" "$AB_SITE" "$AB_ROOT/usr/lib/python2.7/dist-packages"
  # Debian's python2.7 scans only dist-packages; addsitedir (rather than a
  # plain path line) also runs the prefix's own .pth files, which zope's
  # namespace packages need.
  printf "import site; site.addsitedir('%s')\n" "$AB_SITE" \
    >"$AB_ROOT/usr/lib/python2.7/dist-packages/wsmachine-autobahn.pth"
  if ! ls "$AB_WHEELS"/pip-20.3.4-*.whl >/dev/null 2>&1; then
    ab_say "downloading pip for Python 2.7"
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 2.7 \
      --implementation cp --abi cp27mu --platform manylinux1_x86_64 --platform any \
      -d "$AB_WHEELS" pip==20.3.4 setuptools==44.1.1 wheel==0.37.1
  fi
  local pip_wheel
  pip_wheel=$(ls "$AB_WHEELS"/pip-20.3.4-*.whl)
  ab_say "installing wstest's dependencies (pinned) into $AB_PREFIX"
  ab_run_python "$pip_wheel/pip" install -q --no-warn-script-location --prefix "$AB_PREFIX" \
    --find-links "$AB_WHEELS" pip==20.3.4 setuptools==44.1.1 wheel==0.37.1
  ab_run_python -m pip install -q --no-warn-script-location --prefix "$AB_PREFIX" "${AB_PINS[@]}"
  ab_run_python -m pip install -q --no-warn-script-location --prefix "$AB_PREFIX" --no-deps "$AB_SUITE"
  ab_run_python -c 'import autobahntestsuite'
  touch "$AB_WORK/.installed"
}

# ab_run_python ARGS...: the private interpreter.
ab_run_python() {
  LD_LIBRARY_PATH=$AB_LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
    PYTHONNOUSERSITE=1 PIP_FIND_LINKS= PIP_DISABLE_PIP_VERSION_CHECK=1 "$AB_PYTHON" "$@"
}

# ab_install: everything; sets WSTEST.
ab_install() {
  ab_install_python
  ab_install_suite
  WSTEST=(env "LD_LIBRARY_PATH=$AB_LIBDIR" PYTHONNOUSERSITE=1 "$AB_PYTHON" -m autobahntestsuite.wstest)
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  ab_install
  "${WSTEST[@]}" -a
fi
