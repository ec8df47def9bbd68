// Test driver for the AF_XDP backend, run inside a network namespace by
// test/xdp/xdp.test.ts (`ip netns exec NS node test/xdp/driver.mjs CONFIG_JSON`).
// The rings, the UDP echo and the stdin/stdout protocol are test/helpers/link-driver.mjs.
//
// CONFIG_JSON: { ifname, mode?, bpfObject?, ports: [{ claims: [{ proto: 'udp'|'tcp',
//   addr: '10.77.1.1' | 'fd77::1', port }] }] }
// Commands: stats | quit | destroy (link-driver.mjs), and
//   remove PORT         -> {"removed": PORT, "link": {...}}
//   add CLAIMS_JSON     -> {"added": PORT, "link": {...}}
import { native, serve } from '../helpers/link-driver.mjs';

const cfg = JSON.parse(process.argv[2]);

function open() {
  const opts = { ifname: cfg.ifname };
  if (cfg.mode) opts.mode = cfg.mode;
  if (cfg.bpfObject) opts.bpfObject = cfg.bpfObject;
  const id = native.createXdpLink(opts);
  return { id, info: () => native.xdpLinkInfo(id), close: () => native.destroyLink(id) };
}

await serve(open, cfg.ports ?? [], {
  remove(arg, { link, ports }) {
    const id = Number(arg);
    native.removePort(link.id, id);
    ports.splice(ports.findIndex((p) => p.id === id), 1);
    return { removed: id, link: link.info() };
  },
  add(arg, { link, addPort }) {
    const id = addPort({ claims: JSON.parse(arg) });
    return { added: id, link: link.info() };
  },
});
