// Runs the example site: node main.js CONFIG.json
// CONFIG: { "dir": "./data", "site": "http://127.0.0.1:8090/", "port": 8090,
//           "gateway": "http://127.0.0.1:8086", "token": null,
//           "namespaces": [ { "namespace": "handbook", "node": "xmpp:pubsub.localhost?;node=…",
//                             "role": { "type": "mirror", "source": "https://wiki-a.example/", "whenGone": "keep" } },
//                           { "namespace": "blog", "role": { "type": "source" } } ] }
// Optional: "mediaInlineMax" / "mediaMax" (bytes), "mediaUrl" (where other sites fetch this
// site's larger media files; default this server's /media-fetch), "pageUrl", "lockSeconds".
import { readFileSync } from 'node:fs';
import { MirrorSite } from './site.js';

const file = process.argv[2];
if (!file) {
  console.error('usage: node main.js CONFIG.json');
  process.exit(2);
}
const site = new MirrorSite(JSON.parse(readFileSync(file, 'utf8')));
const url = await site.start();
console.log(`mirror-site listening on ${url}`);
for (const [namespace, { role, node, subscribed }] of Object.entries(site.nodes)) {
  console.log(`${namespace || '(all)'}: ${role.type} on ${node}${subscribed ? ', subscribed' : ''}`);
}
const stop = () => site.stop().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
