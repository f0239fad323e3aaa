#!/usr/bin/env python3
"""An independent XMPP client (slixmpp) for the gateway's XMPP-mode tests.

Usage: slix.py HOST PORT JID PASSWORD SERVICE COMMAND ARGS...

Commands:
  listen NODE SECONDS     subscribe (retrying until the node exists), print "READY", then one JSON
                          line per pubsub event ({"kind": "publish"|"retract"|"delete"|"purge",
                          "node", "id", "entry"}) until SECONDS have passed or stdin closes
  publish NODE ID         publish the Atom entry read from stdin as item ID; print "OK"
  publish-batch NODE      publish one item per stdin line, JSON {"id", "entry"}, in order; print "OK"
  retract NODE ID         retract item ID with notify; print "OK"
  purge NODE              purge the node; print "OK"
  create NODE             create a node; print "OK"
  delete NODE [REDIRECT]  delete a node (optionally redirecting); print "OK"
Exit status 0 on success, 1 on a refused request (message on stderr).
"""
import asyncio
import json
import sys
import xml.etree.ElementTree as ET

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream import ET as SET  # noqa: F401  (same ElementTree)


def client(jid, password):
    c = slixmpp.ClientXMPP(jid, password)
    c.enable_direct_tls = False
    c.enable_starttls = False
    c.enable_plaintext = True
    c.register_plugin("xep_0030")
    c.register_plugin("xep_0060")
    c.register_plugin("xep_0004")
    c.plugin["feature_mechanisms"].unencrypted_plain = True
    c.plugin["feature_mechanisms"].unencrypted_scram = True
    return c


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def main():
    host, port, jid, password, service, command, *args = sys.argv[1:]
    c = client(jid, password)
    started = asyncio.get_running_loop().create_future()
    c.add_event_handler("session_start", lambda _e: started.done() or started.set_result(True))
    c.add_event_handler("failed_auth", lambda _e: started.done() or started.set_exception(RuntimeError("auth failed")))
    c.connect(host, int(port))
    await asyncio.wait_for(started, 20)
    c.send_presence()
    ps = c.plugin["xep_0060"]
    try:
        if command == "listen":
            node, seconds = args[0], float(args[1])

            def on_publish(msg):
                item = msg["pubsub_event"]["items"]["item"]
                payload = item.xml.find("{http://www.w3.org/2005/Atom}entry")
                emit({"kind": "publish", "node": msg["pubsub_event"]["items"]["node"], "id": item["id"],
                      "entry": ET.tostring(payload, encoding="unicode") if payload is not None else None})

            def on_retract(msg):
                emit({"kind": "retract", "node": msg["pubsub_event"]["items"]["node"],
                      "id": msg["pubsub_event"]["items"]["retract"]["id"]})

            c.add_event_handler("pubsub_publish", on_publish)
            c.add_event_handler("pubsub_retract", on_retract)
            c.add_event_handler("pubsub_delete", lambda m: emit({"kind": "delete", "node": m["pubsub_event"]["delete"]["node"]}))
            c.add_event_handler("pubsub_purge", lambda m: emit({"kind": "purge", "node": m["pubsub_event"]["purge"]["node"]}))
            deadline = asyncio.get_running_loop().time() + 15
            while True:
                try:
                    await ps.subscribe(service, node)
                    break
                except IqError:
                    if asyncio.get_running_loop().time() > deadline:
                        raise
                    await asyncio.sleep(0.1)
            print("READY", flush=True)
            loop = asyncio.get_running_loop()
            eof = loop.run_in_executor(None, sys.stdin.read)
            try:
                await asyncio.wait_for(eof, seconds)
            except asyncio.TimeoutError:
                pass
        elif command == "publish":
            entry = ET.fromstring(sys.stdin.read())
            await ps.publish(service, args[0], id=args[1], payload=entry)
            print("OK", flush=True)
        elif command == "publish-batch":
            for line in sys.stdin.read().splitlines():
                if line.strip():
                    item = json.loads(line)
                    await ps.publish(service, args[0], id=item["id"], payload=ET.fromstring(item["entry"]))
            print("OK", flush=True)
        elif command == "retract":
            await ps.retract(service, args[0], args[1], notify=True)
            print("OK", flush=True)
        elif command == "purge":
            await ps.purge(service, args[0])
            print("OK", flush=True)
        elif command == "create":
            await ps.create_node(service, args[0])
            print("OK", flush=True)
        elif command == "delete":
            if len(args) > 1:
                iq = c.make_iq_set(ito=service)
                owner = ET.SubElement(iq.xml, "{http://jabber.org/protocol/pubsub#owner}pubsub")
                d = ET.SubElement(owner, "{http://jabber.org/protocol/pubsub#owner}delete", node=args[0])
                ET.SubElement(d, "{http://jabber.org/protocol/pubsub#owner}redirect", uri=args[1])
                await iq.send()
            else:
                await ps.delete_node(service, args[0])
            print("OK", flush=True)
        else:
            print(f"unknown command {command}", file=sys.stderr)
            return 2
    except (IqError, IqTimeout) as e:
        print(f"refused: {e}", file=sys.stderr)
        return 1
    finally:
        c.disconnect()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
