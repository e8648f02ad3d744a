// The network as a graph: sites as nodes, links as edges (up or down, cost,
// bytes/s), drawn and laid out by Cytoscape.js (a circle for a few sites, its
// built-in force-directed "cose" layout for more). Elements are kept by id across updates, so an update
// changes what changed and the layout runs again only when a site or link
// appears or goes.
//
// Keyboard: the canvas has no focusable parts, so the graph's container takes
// focus itself; arrow keys move a focus ring from site to site (in name
// order), the live region `#graph-focus` says which site has it, and Enter or
// Space opens that site's detail, as a click (tap) on a node does.
import cytoscape, { type Core } from 'cytoscape';
import { formatRate } from './format.js';
import type { Link, Site } from './types.js';

/** Up to this many sites are laid out on a circle, more by cose. */
const SMALL_NETWORK = 6;

export class NetworkGraph {
  readonly #cy: Core;
  readonly #container: HTMLElement;
  readonly #announce: HTMLElement;
  readonly #open: (site: string) => void;
  #shape = '';
  /** The name of the site with the keyboard focus ring, if any. */
  #focused: string | undefined;

  /** `announce`: a live region for the focused site; `open`: shows a site's detail. */
  constructor(container: HTMLElement, announce: HTMLElement, open: (site: string) => void) {
    this.#container = container;
    this.#announce = announce;
    this.#open = open;
    this.#cy = cytoscape({
      container,
      userZoomingEnabled: false,
      // Fitting two or three sites into the box would blow them up.
      maxZoom: 1.2,
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
            'text-wrap': 'wrap',
            width: 3,
            'line-color': '#2e8540',
            'target-arrow-color': '#2e8540',
            'target-arrow-shape': 'triangle',
            'curve-style': 'bezier',
          },
        },
        { selector: 'edge[!up]', style: { 'line-color': '#c0392b', 'target-arrow-color': '#c0392b', 'line-style': 'dashed' } },
        { selector: 'node.focused', style: { 'overlay-color': '#f0b400', 'overlay-opacity': 0.35, 'overlay-padding': 8, 'font-weight': 'bold' } },
      ],
    });
    this.#cy.on('tap', 'node', (event) => this.#open(String(event.target.data('name'))));
    container.addEventListener('keydown', (event) => this.#key(event));
    container.addEventListener('focus', () => this.#move(0));
    container.addEventListener('blur', () => this.#cy.nodes().removeClass('focused'));
  }

  #names(): string[] {
    return this.#cy
      .nodes()
      .map((node) => String(node.data('name')))
      .sort((a, b) => a.localeCompare(b));
  }

  #key(event: KeyboardEvent): void {
    const steps: Record<string, number> = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 };
    if (event.key in steps) this.#move(steps[event.key]!);
    else if (event.key === 'Home') this.#focusAt(0);
    else if (event.key === 'End') this.#focusAt(this.#names().length - 1);
    else if ((event.key === 'Enter' || event.key === ' ') && this.#focused !== undefined) this.#open(this.#focused);
    else return;
    event.preventDefault();
  }

  /** Moves the focus ring `step` sites on (0: keeps it, or puts it on the first site). */
  #move(step: number): void {
    const names = this.#names();
    if (names.length === 0) return;
    const at = this.#focused === undefined ? -1 : names.indexOf(this.#focused);
    this.#focusAt(at < 0 ? 0 : (at + step + names.length) % names.length);
  }

  #focusAt(index: number): void {
    const name = this.#names()[index];
    if (name === undefined) return;
    this.#focused = name;
    this.#cy.nodes().removeClass('focused');
    const node = this.#cy.getElementById(`site:${name}`);
    node.addClass('focused');
    const label = String(node.data('label')).replace('\n', ', ');
    const edges = node.connectedEdges().length;
    this.#announce.textContent = `Site ${index + 1} of ${this.#names().length}: ${label}, ${edges} link${edges === 1 ? '' : 's'}. Enter opens its detail.`;
  }

  update(sites: readonly Site[], links: readonly Link[]): void {
    const cy = this.#cy;
    const known = new Set(sites.map((s) => s.name));
    const nodes = sites.map((s) => ({ id: `site:${s.name}`, name: s.name, label: `${s.name}\n${s.platform}, ${s.mode}`, self: s.self, mode: s.mode }));
    // A link to a site not heard of (yet) still shows: its far end is a node of its own.
    for (const link of links) {
      for (const name of [link.from, link.to]) {
        if (!known.has(name)) {
          known.add(name);
          nodes.push({ id: `site:${name}`, name, label: `${name}\n(not heard)`, self: false, mode: 'unknown' });
        }
      }
    }
    const edges = links.map((l) => ({
      id: `link:${l.id}`,
      source: `site:${l.from}`,
      target: `site:${l.to}`,
      up: l.up,
      label: `${l.up ? 'up' : 'down'}${l.cost === undefined ? '' : `, cost ${l.cost}`}${l.bytesPerSecond === undefined ? '' : `\n${formatRate(l.bytesPerSecond)}`}`,
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
      // A few sites sit best on a circle; cose (random-seeded) could put them in a cramped line with labels on top of each other.
      if (cy.nodes().length <= SMALL_NETWORK) cy.layout({ name: 'circle', animate: false, padding: 30, radius: 90 }).run();
      else cy.layout({ name: 'cose', animate: false, padding: 40, randomize: false }).run();
    }
    // What the graph draws, for assistive technology and for tests: counted from the graph itself.
    const up = cy.edges('[?up]').length;
    const down = cy.edges('[!up]').length;
    this.#container.dataset.sites = String(cy.nodes().length);
    this.#container.dataset.linksUp = String(up);
    this.#container.dataset.linksDown = String(down);
    this.#container.dataset.edgeRates = links.map((l) => `${l.from}>${l.to} ${formatRate(l.bytesPerSecond)}`).join('; ');
    this.#container.setAttribute('aria-label', `Network graph: ${cy.nodes().length} sites, ${up} links up, ${down} down. Arrow keys move between sites, Enter opens one's detail; the tables below list the same sites and links.`);
    if (this.#focused !== undefined && cy.getElementById(`site:${this.#focused}`).empty()) this.#focused = undefined;
  }
}
