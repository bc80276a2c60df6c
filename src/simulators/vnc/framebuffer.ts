/**
 * The one framebuffer a simulated VNC server shares between all its connections, with per-tile change
 * stamps so each connection can be sent only what changed since its last update.
 */
import { clipRect } from './draw.js';
import type { Rect, Surface } from './draw.js';

/** Edge of the square tiles changes are tracked in, pixels. */
export const TILE_SIZE = 16;

/** Per-connection record of the tile stamps it has been sent; create with `Framebuffer.newSentState()`. */
export type SentState = Uint32Array;

export class Framebuffer implements Surface {
  readonly width: number;
  readonly height: number;
  readonly pixels: Uint32Array;
  readonly #tilesX: number;
  readonly #tilesY: number;
  /** Bumped (wrapping) each time any pixel of the tile changes; compared with `!==`, so wrap is harmless. */
  readonly #tileStamps: Uint32Array;

  constructor(width: number, height: number, background = 0) {
    this.width = width;
    this.height = height;
    this.pixels = new Uint32Array(width * height).fill(background);
    this.#tilesX = Math.ceil(width / TILE_SIZE);
    this.#tilesY = Math.ceil(height / TILE_SIZE);
    this.#tileStamps = new Uint32Array(this.#tilesX * this.#tilesY);
  }

  /** Copies a whole new frame in; returns true if any pixel differed. */
  replace(next: Uint32Array): boolean {
    if (next.length !== this.pixels.length) throw new RangeError('frame size mismatch');
    const changedTiles = new Uint8Array(this.#tileStamps.length);
    let changed = false;
    for (let y = 0; y < this.height; y++) {
      const tileRow = Math.floor(y / TILE_SIZE) * this.#tilesX;
      const rowStart = y * this.width;
      for (let x = 0; x < this.width; x++) {
        const i = rowStart + x;
        if (this.pixels[i] !== next[i]) {
          this.pixels[i] = next[i]!;
          changedTiles[tileRow + Math.floor(x / TILE_SIZE)] = 1;
          changed = true;
        }
      }
    }
    if (changed) {
      for (let t = 0; t < changedTiles.length; t++) if (changedTiles[t]) this.#tileStamps[t] = this.#tileStamps[t]! + 1;
    }
    return changed;
  }

  /** A sent-state for a new connection: every tile counts as changed. */
  newSentState(): SentState {
    return this.#tileStamps.map((stamp) => stamp - 1);
  }

  /**
   * Rectangles inside `region` covering every tile changed since `sent` was last marked.
   * Runs of adjacent changed tiles are joined across a tile row, and equal runs down consecutive rows.
   */
  changedRects(sent: SentState, region: Rect): Rect[] {
    const area = clipRect(this, region);
    if (area.width === 0 || area.height === 0) return [];
    const [tx0, tx1, ty0, ty1] = this.#tileRange(area);
    const rects: Rect[] = [];
    let above = new Map<number, Rect>(); // runs ending on the previous tile row, keyed by first tile column
    for (let ty = ty0; ty < ty1; ty++) {
      const current = new Map<number, Rect>();
      let tx = tx0;
      while (tx < tx1) {
        if (this.#tileStamps[ty * this.#tilesX + tx] === sent[ty * this.#tilesX + tx]) {
          tx++;
          continue;
        }
        const runStart = tx;
        while (tx < tx1 && this.#tileStamps[ty * this.#tilesX + tx] !== sent[ty * this.#tilesX + tx]) tx++;
        const rect = clipRect(area, {
          x: runStart * TILE_SIZE,
          y: ty * TILE_SIZE,
          width: (tx - runStart) * TILE_SIZE,
          height: TILE_SIZE,
        });
        const previous = above.get(runStart);
        if (previous && previous.x === rect.x && previous.width === rect.width) {
          previous.height = rect.y + rect.height - previous.y;
          current.set(runStart, previous);
        } else {
          rects.push(rect);
          current.set(runStart, rect);
        }
      }
      above = current;
    }
    return rects;
  }

  /** Records that every tile touching `rect` has been sent at its current stamp. */
  markSent(sent: SentState, rect: Rect): void {
    const area = clipRect(this, rect);
    if (area.width === 0 || area.height === 0) return;
    const [tx0, tx1, ty0, ty1] = this.#tileRange(area);
    for (let ty = ty0; ty < ty1; ty++) {
      for (let tx = tx0; tx < tx1; tx++) sent[ty * this.#tilesX + tx] = this.#tileStamps[ty * this.#tilesX + tx]!;
    }
  }

  #tileRange(area: Rect): [number, number, number, number] {
    return [
      Math.floor(area.x / TILE_SIZE),
      Math.ceil((area.x + area.width) / TILE_SIZE),
      Math.floor(area.y / TILE_SIZE),
      Math.ceil((area.y + area.height) / TILE_SIZE),
    ];
  }
}
