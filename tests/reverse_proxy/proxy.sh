# Starts nginx or HAProxy in front of servers on loopback ports, from the
# templates beside this file (sourced by tests/reverse_proxy/run.sh and, with
# AUTOBAHN_FRONT, by tests/autobahn/run.sh; needs tests/lib.sh sourced first,
# whose trap stops what is started here).
#
#   start_proxy KIND DIR TIMEOUT BACKEND_PORT...
#
# KIND is nginx or haproxy; DIR a scratch directory (created; config, pid
# and logs go there); TIMEOUT the idle timeout of an upgraded connection
# (nginx's proxy_read_timeout, HAProxy's timeout tunnel), e.g. 1h or 2s.
# Each runs in the foreground as this shell's child. Sets PROXY_PORT and
# PROXY_PID, and fails (status 1, with the proxy's log) when it does not
# start within 10 s.

RP_HERE=${RP_HERE:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}

rp_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

rp_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The binaries live in /usr/sbin, which a non-root PATH may lack.
rp_binary() {
  command -v "$1" 2>/dev/null || { [ -x "/usr/sbin/$1" ] && echo "/usr/sbin/$1"; } || {
    echo "proxy: $1 is not installed: run tests/reverse_proxy/run.sh (it installs it) or apt-get install -y $1" >&2
    return 1
  }
}

start_proxy() {
  local kind=$1 dir=$2 timeout=$3
  shift 3
  local binary servers="" backend port conf attempt tries log
  binary=$(rp_binary "$kind") || return 1
  mkdir -p "$dir"
  # Workers of an nginx started as root run as nobody: let them in.
  chmod 755 "$dir"
  local i=0
  for backend in "$@"; do
    [[ "$backend" =~ ^[0-9]+$ ]] || {
      echo "proxy: a backend port must be a number, not '$backend'" >&2
      return 2
    }
    i=$((i + 1))
    case "$kind" in
      nginx) servers+="        server 127.0.0.1:$backend;"$'\n' ;;
      haproxy) servers+="    server echo$i 127.0.0.1:$backend"$'\n' ;;
    esac
  done
  # The free port may be taken before the proxy binds it: then the proxy
  # exits, and another is tried.
  for attempt in 1 2 3 4 5; do
    port=$(rp_free_port)
    case "$kind" in
      nginx) conf=$(<"$RP_HERE/nginx.conf.in") ;;
      haproxy) conf=$(<"$RP_HERE/haproxy.cfg.in") ;;
      *)
        echo "proxy: KIND must be nginx or haproxy, not $kind" >&2
        return 2
        ;;
    esac
    conf=${conf//@PREFIX@/$dir}
    conf=${conf//@PORT@/$port}
    conf=${conf//@TIMEOUT@/$timeout}
    conf=${conf//@SERVERS@/${servers%$'\n'}}
    log=$dir/$kind.log
    case "$kind" in
      nginx)
        printf '%s\n' "$conf" >"$dir/nginx.conf"
        # -e: the error log before the config is read (not /var/log).
        "$binary" -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" -g 'daemon off;' \
          >"$log" 2>&1 </dev/null &
        ;;
      haproxy)
        printf '%s\n' "$conf" >"$dir/haproxy.cfg"
        "$binary" -f "$dir/haproxy.cfg" -db >"$log" 2>&1 </dev/null &
        ;;
    esac
    PROXY_PID=$!
    background_pids+=("$PROXY_PID")
    tries=100
    while [ "$tries" -gt 0 ] && kill -0 "$PROXY_PID" 2>/dev/null; do
      if rp_port_open "$port"; then
        PROXY_PORT=$port
        return 0
      fi
      tries=$((tries - 1))
      sleep 0.1
    done
    kill "$PROXY_PID" 2>/dev/null || true
    wait "$PROXY_PID" 2>/dev/null || true
  done
  echo "proxy: $kind did not start on 127.0.0.1:$port; its log:" >&2
  tail -n 20 "$log" "$dir/error.log" >&2 2>/dev/null || true
  return 1
}
