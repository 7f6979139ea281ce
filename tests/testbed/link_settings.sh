#!/usr/bin/env bash
# The links between the test beds' data centers, set in one place: both beds
# (slow_link_testbed.sh, multihost_testbed.sh), and so every test and
# benchmark on them, read these settings and build the same link from them:
# tc tbf where a rate is all they ask, meridian-wan-link (wan_link.cc) where
# they ask for what this kernel cannot do (it has no netem).
#
#   LINK_RATE        each direction of each link (100mbit)
#   LINK_DELAY_MS    one-way delay (0); a round trip is twice it
#   LINK_JITTER_MS   uniform jitter around the delay, order kept (0)
#   LINK_LOSS        probability a packet is dropped (0)
#   LINK_CONTROL     a file of `down A B` lines that take the link between
#                    data centers A and B down; the forwarder re-reads it on
#                    SIGHUP, and its pid is in LINK_CONTROL.pid
#   LINK_WINDOW      PERIOD:UP[:PHASE]: every link is up only in its windows
#   LINK_WINDOWS     space-separated A:B:SPEC, a link's own window
#   LINK_USER_SPACE  1: the forwarder carries the links even with a rate alone
#
# Each may come from the environment; a bed's flags (link_option) override.
# Sourced.

: "${LINK_RATE:=100mbit}" "${LINK_DELAY_MS:=0}" "${LINK_JITTER_MS:=0}" "${LINK_LOSS:=0}"
: "${LINK_CONTROL:=}" "${LINK_WINDOW:=}" "${LINK_WINDOWS:=}" "${LINK_USER_SPACE:=0}"

# link_option FLAG VALUE: sets the setting FLAG names (--rate, --delay-ms,
# --jitter-ms, --loss, --control, --window, --link-window); 1 if it names none.
link_option() {
  case $1 in
    --rate) LINK_RATE=$2 ;;
    --delay-ms) LINK_DELAY_MS=$2 ;;
    --jitter-ms) LINK_JITTER_MS=$2 ;;
    --loss) LINK_LOSS=$2 ;;
    --control) LINK_CONTROL=$2 ;;
    --window) LINK_WINDOW=$2 ;;
    --link-window) LINK_WINDOWS+="${LINK_WINDOWS:+ }$2" ;;
    *) return 1 ;;
  esac
}

# link_in_user_space: whether the links need the forwarder (anything but a rate).
link_in_user_space() {
  [[ $LINK_USER_SPACE == 1 || $LINK_DELAY_MS != 0 || $LINK_JITTER_MS != 0 || $LINK_LOSS != 0 ||
     -n $LINK_CONTROL || -n $LINK_WINDOW || -n $LINK_WINDOWS ]]
}

# link_forwarder_args: LINK_ARGS=(meridian-wan-link's options for these settings).
link_forwarder_args() {
  local w
  LINK_ARGS=(--rate "$LINK_RATE" --delay-ms "$LINK_DELAY_MS" --jitter-ms "$LINK_JITTER_MS" --loss "$LINK_LOSS")
  [[ -n $LINK_CONTROL ]] && LINK_ARGS+=(--control "$LINK_CONTROL")
  [[ -n $LINK_WINDOW ]] && LINK_ARGS+=(--window "$LINK_WINDOW")
  for w in $LINK_WINDOWS; do LINK_ARGS+=(--link-window "$w"); done
  true
}

# link_describe: the settings in words, for a bed's banner.
link_describe() {
  local text="$LINK_RATE each way"
  [[ $LINK_DELAY_MS != 0 ]] && text+=", one-way delay $LINK_DELAY_MS ms"
  [[ $LINK_JITTER_MS != 0 ]] && text+=", jitter $LINK_JITTER_MS ms"
  [[ $LINK_LOSS != 0 ]] && text+=", loss $LINK_LOSS"
  [[ -n $LINK_WINDOW$LINK_WINDOWS ]] && text+=", in contact windows"
  echo "$text"
}
