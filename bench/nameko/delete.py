"""Deletes what a run of bench/amqp.sh leaves on the broker: the queues
named on the command line and, with --exchange NAME, exchanges.

    python delete.py AMQP_URL [--exchange NAME]... QUEUE...
"""

import sys

import kombu


def main(argv):
    url, rest = argv[0], argv[1:]
    queues, exchanges = [], []
    while rest:
        if rest[0] == "--exchange" and len(rest) > 1:
            exchanges.append(rest[1])
            rest = rest[2:]
        else:
            queues.append(rest[0])
            rest = rest[1:]
    with kombu.Connection(url) as conn:
        for kind, names in (("queue", queues), ("exchange", exchanges)):
            for name in names:
                channel = conn.channel()
                try:
                    if kind == "queue":
                        channel.queue_delete(name)
                    else:
                        channel.exchange_delete(name)
                except Exception as error:  # a name already gone is fine
                    print("delete %s %s: %s" % (kind, name, error), file=sys.stderr)
                finally:
                    try:
                        channel.close()
                    except Exception:
                        pass


if __name__ == "__main__":
    main(sys.argv[1:])
