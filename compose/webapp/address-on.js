// Prints this container's IPv4 address on the Docker network named in argv[2]: the address whose
// name in Docker's embedded DNS (PTR "<container>.<network>") ends with that network. A swarm
// task also sits on docker_gwbridge, which Serf would otherwise pick to advertise. Falls back to
// the first non-internal address.
const os = require("node:os");
const dns = require("node:dns").promises;

const network = process.argv[2];
const candidates = Object.keys(os.networkInterfaces())
  .sort()
  .flatMap((name) => os.networkInterfaces()[name] || [])
  .filter((a) => a.family === "IPv4" && !a.internal)
  .map((a) => a.address);

async function onNetwork() {
  for (let attempt = 0; attempt < 10; attempt++) {
    for (const ip of candidates) {
      const arpa = `${ip.split(".").reverse().join(".")}.in-addr.arpa`;
      const names = await dns.resolvePtr(arpa).catch(() => []);
      if (names.some((n) => n.endsWith(`.${network}`))) return ip;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  return candidates[0] || "127.0.0.1";
}

onNetwork().then((ip) => console.log(ip));
