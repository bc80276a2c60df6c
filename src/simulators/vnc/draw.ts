/** Drawing onto a plain 0xRRGGBB pixel array; no change tracking (see Framebuffer for that). */
import { GLYPH_HEIGHT, GLYPH_WIDTH, glyphAdvance, glyphRows } from './font.js';

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Surface {
  readonly width: number;
  readonly height: number;
  /** Row-major, one 0x00RRGGBB value per pixel. */
  readonly pixels: Uint32Array;
}

/** `rect` cut to the surface; width/height may come out 0. */
export function clipRect(surface: { width: number; height: number }, rect: Rect): Rect {
  const x = Math.max(0, Math.min(rect.x, surface.width));
  const y = Math.max(0, Math.min(rect.y, surface.height));
  const right = Math.max(x, Math.min(rect.x + rect.width, surface.width));
  const bottom = Math.max(y, Math.min(rect.y + rect.height, surface.height));
  return { x, y, width: right - x, height: bottom - y };
}

export function fillRect(surface: Surface, rect: Rect, color: number): void {
  const r = clipRect(surface, rect);
  for (let row = r.y; row < r.y + r.height; row++) {
    const start = row * surface.width + r.x;
    surface.pixels.fill(color, start, start + r.width);
  }
}

/** Draws `text` with its top-left at (x, y), each font cell a `scale` x `scale` square. Clips at the edges. */
export function drawText(surface: Surface, text: string, x: number, y: number, scale: number, color: number): void {
  let left = x;
  for (const ch of text) {
    const rows = glyphRows(ch);
    for (let row = 0; row < GLYPH_HEIGHT; row++) {
      const mask = rows[row] ?? 0;
      for (let col = 0; col < GLYPH_WIDTH; col++) {
        if (mask & (1 << (GLYPH_WIDTH - 1 - col))) {
          fillRect(surface, { x: left + col * scale, y: y + row * scale, width: scale, height: scale }, color);
        }
      }
    }
    left += glyphAdvance(scale);
  }
}

/** The smallest rectangle holding both; an empty rectangle counts as nothing. */
export function unionRect(a: Rect, b: Rect): Rect {
  if (a.width === 0 || a.height === 0) return b;
  if (b.width === 0 || b.height === 0) return a;
  const x = Math.min(a.x, b.x);
  const y = Math.min(a.y, b.y);
  return {
    x,
    y,
    width: Math.max(a.x + a.width, b.x + b.width) - x,
    height: Math.max(a.y + a.height, b.y + b.height) - y,
  };
}
