// rhea raises sender_open/receiver_open both for links a peer attaches and for
// the peer's answer to links this router attached. Links this router opened are
// marked here so that the connection's handlers only treat the peer's links.
const ownLinks = new WeakSet<object>();

export function markOwnLink<T extends object>(link: T): T {
  ownLinks.add(link);
  return link;
}

export function isOwnLink(link: object | undefined): boolean {
  return link !== undefined && ownLinks.has(link);
}
