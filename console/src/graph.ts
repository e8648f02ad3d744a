// The network as a graph: sites as nodes, links as edges, drawn and laid out
// by Cytoscape.js (its built-in force-directed "cose" layout). Elements are
// kept by id across updates, so an update changes what changed and the
// layout runs again only when a site or link appears or goes.
import cytoscape, { type Core } from 'cytoscape';
import type { Link, Site } from './types.js';

export class NetworkGraph {
  readonly #cy: Core;
  readonly #container: HTMLElement;
  #shape = '';

  constructor(container: HTMLElement) {
    this.#container = container;
    this.#cy = cytoscape({
      container,
      userZoomingEnabled: false,
      boxSelectionEnabled: false,
      style: [
        {
          selector: 'node',
          style: {
            label: 'data(label)',
            'text-wrap': 'wrap',
            'text-valign': 'bottom',
            'text-margin-y': 6,
            'font-size': 12,
            'background-color': '#2f6fb0',
            width: 34,
            height: 34,
          },
        },
        { selector: 'node[?self]', style: { 'border-width': 4, 'border-color': '#f0b400' } },
        { selector: 'node[mode = "edge"]', style: { shape: 'round-rectangle' } },
        {
          selector: 'edge',
          style: {
            label: 'data(label)',
            'font-size': 11,
            'text-background-color': '#ffffff',
            'text-background-opacity': 1,
            width: 3,
            'line-color': '#2e8540',
            'target-arrow-color': '#2e8540',
            'target-arrow-shape': 'triangle',
            'curve-style': 'bezier',
          },
        },
        { selector: 'edge[!up]', style: { 'line-color': '#c0392b', 'target-arrow-color': '#c0392b', 'line-style': 'dashed' } },
      ],
    });
  }

  update(sites: readonly Site[], links: readonly Link[]): void {
    const cy = this.#cy;
    const known = new Set(sites.map((s) => s.name));
    const nodes = sites.map((s) => ({ id: `site:${s.name}`, label: `${s.name}\n${s.platform}, ${s.mode}`, self: s.self, mode: s.mode }));
    // A link to a site not heard of (yet) still shows: its far end is a node of its own.
    for (const link of links) {
      for (const name of [link.from, link.to]) {
        if (!known.has(name)) {
          known.add(name);
          nodes.push({ id: `site:${name}`, label: `${name}\n(not heard)`, self: false, mode: 'unknown' });
        }
      }
    }
    const edges = links.map((l) => ({
      id: `link:${l.id}`,
      source: `site:${l.from}`,
      target: `site:${l.to}`,
      up: l.up,
      label: `${l.up ? 'up' : 'down'}${l.cost === undefined ? '' : `, cost ${l.cost}`}`,
    }));
    const ids = new Set([...nodes, ...edges].map((e) => e.id));
    cy.batch(() => {
      cy.elements().filter((e) => !ids.has(e.id())).remove();
      for (const data of nodes) {
        const existing = cy.getElementById(data.id);
        if (existing.nonempty()) existing.data(data);
        else cy.add({ group: 'nodes', data });
      }
      for (const data of edges) {
        const existing = cy.getElementById(data.id);
        if (existing.nonempty()) existing.data(data);
        else cy.add({ group: 'edges', data });
      }
    });
    const shape = [...ids].sort().join(' ');
    if (shape !== this.#shape) {
      this.#shape = shape;
      cy.layout({ name: 'cose', animate: false, padding: 40, randomize: false }).run();
    }
    // What the graph draws, for assistive technology and for tests: counted from the graph itself.
    const up = cy.edges('[?up]').length;
    const down = cy.edges('[!up]').length;
    this.#container.dataset.sites = String(cy.nodes().length);
    this.#container.dataset.linksUp = String(up);
    this.#container.dataset.linksDown = String(down);
    this.#container.setAttribute('aria-label', `Network graph: ${cy.nodes().length} sites, ${up} links up, ${down} down. The tables below list the same sites and links.`);
  }
}
