// How a weight given to a site or a target reaches its tcpConnectors: split
// evenly over them in whole numbers (the router's `weight` is an integer), the
// remainder one each to the first, so that the connectors of one router
// address add up to exactly the weight given and the router advertises it.

/** The connectors with `weight` set: `total` split over those of each router address (weights are per address: each port is one). */
export function splitWeight<C extends { readonly address: string }>(total: number, connectors: readonly C[]): (C & { weight: number })[] {
  const byAddress = new Map<string, number>();
  for (const connector of connectors) byAddress.set(connector.address, (byAddress.get(connector.address) ?? 0) + 1);
  const seen = new Map<string, number>();
  return connectors.map((connector) => {
    const count = byAddress.get(connector.address) ?? 1;
    const index = seen.get(connector.address) ?? 0;
    seen.set(connector.address, index + 1);
    const weight = Math.floor(total / count) + (index < total % count ? 1 : 0);
    return { ...connector, weight };
  });
}

/** A local target's key for its weight: `ADDRESS|TYPE/NAME`. */
export function targetKey(address: string, target: { readonly type: string; readonly name: string }): string {
  return `${address}|${target.type}/${target.name}`;
}

