/**
 * RFB PIXEL_FORMAT (RFC 6143 7.4) and turning 0xRRGGBB framebuffer pixels into a client's format.
 * True colour only: colour-map formats would need SetColourMapEntries, which no current client asks for.
 */
import { endianness } from 'node:os';
import { VncSessionError, VncSessionFailure } from './errors.js';
import type { Rect, Surface } from './draw.js';

export interface PixelFormat {
  bitsPerPixel: 8 | 16 | 32;
  depth: number;
  bigEndian: boolean;
  trueColour: boolean;
  redMax: number;
  greenMax: number;
  blueMax: number;
  redShift: number;
  greenShift: number;
  blueShift: number;
}

/** What the simulated server announces in ServerInit: 32bpp, depth 24, little-endian, 0x00RRGGBB. */
export const DEFAULT_PIXEL_FORMAT: Readonly<PixelFormat> = Object.freeze({
  bitsPerPixel: 32,
  depth: 24,
  bigEndian: false,
  trueColour: true,
  redMax: 255,
  greenMax: 255,
  blueMax: 255,
  redShift: 16,
  greenShift: 8,
  blueShift: 0,
});

/** Length of the PIXEL_FORMAT structure on the wire, padding included. */
export const PIXEL_FORMAT_LENGTH = 16;

export function encodePixelFormat(format: PixelFormat): Buffer {
  const buf = Buffer.alloc(PIXEL_FORMAT_LENGTH);
  buf.writeUInt8(format.bitsPerPixel, 0);
  buf.writeUInt8(format.depth, 1);
  buf.writeUInt8(format.bigEndian ? 1 : 0, 2);
  buf.writeUInt8(format.trueColour ? 1 : 0, 3);
  buf.writeUInt16BE(format.redMax, 4);
  buf.writeUInt16BE(format.greenMax, 6);
  buf.writeUInt16BE(format.blueMax, 8);
  buf.writeUInt8(format.redShift, 10);
  buf.writeUInt8(format.greenShift, 11);
  buf.writeUInt8(format.blueShift, 12);
  return buf;
}

/** Parses and validates a client's PIXEL_FORMAT; throws VncSessionError(protocol) for one we cannot produce. */
export function decodePixelFormat(buf: Buffer): PixelFormat {
  const bitsPerPixel = buf.readUInt8(0);
  if (bitsPerPixel !== 8 && bitsPerPixel !== 16 && bitsPerPixel !== 32) {
    throw new VncSessionError(VncSessionFailure.Protocol, `unsupported bits-per-pixel ${bitsPerPixel}`);
  }
  const format: PixelFormat = {
    bitsPerPixel,
    depth: buf.readUInt8(1),
    bigEndian: buf.readUInt8(2) !== 0,
    trueColour: buf.readUInt8(3) !== 0,
    redMax: buf.readUInt16BE(4),
    greenMax: buf.readUInt16BE(6),
    blueMax: buf.readUInt16BE(8),
    redShift: buf.readUInt8(10),
    greenShift: buf.readUInt8(11),
    blueShift: buf.readUInt8(12),
  };
  if (!format.trueColour) throw new VncSessionError(VncSessionFailure.Protocol, 'colour-map pixel formats are not supported');
  for (const [max, shift] of [
    [format.redMax, format.redShift],
    [format.greenMax, format.greenShift],
    [format.blueMax, format.blueShift],
  ] as const) {
    if (max === 0 || shift + Math.ceil(Math.log2(max + 1)) > bitsPerPixel) {
      throw new VncSessionError(VncSessionFailure.Protocol, 'colour channel does not fit the pixel');
    }
  }
  return format;
}

function isNativeDefault(format: PixelFormat): boolean {
  return (
    endianness() === 'LE' &&
    format.bitsPerPixel === 32 &&
    !format.bigEndian &&
    format.redMax === 255 &&
    format.greenMax === 255 &&
    format.blueMax === 255 &&
    format.redShift === 16 &&
    format.greenShift === 8 &&
    format.blueShift === 0
  );
}

/** Scales an 8-bit channel to 0..max, rounding to nearest. */
function scaleChannel(value: number, max: number): number {
  return Math.floor((value * max + 127) / 255);
}

/** Converts framebuffer rectangles to one client's pixel format (Raw encoding's pixel data). */
export class PixelEncoder {
  readonly format: Readonly<PixelFormat>;
  readonly #bytesPerPixel: number;
  readonly #native: boolean;
  /** 0xRRGGBB -> packed client pixel; the simulated screen uses a handful of colours. */
  readonly #packed = new Map<number, number>();

  constructor(format: PixelFormat) {
    this.format = Object.freeze({ ...format });
    this.#bytesPerPixel = format.bitsPerPixel / 8;
    this.#native = isNativeDefault(format);
  }

  get bytesPerPixel(): number {
    return this.#bytesPerPixel;
  }

  /** Packs one 0xRRGGBB colour into the client's pixel value. */
  pack(rgb: number): number {
    let packed = this.#packed.get(rgb);
    if (packed === undefined) {
      const f = this.format;
      packed =
        ((scaleChannel((rgb >> 16) & 0xff, f.redMax) << f.redShift) |
          (scaleChannel((rgb >> 8) & 0xff, f.greenMax) << f.greenShift) |
          (scaleChannel(rgb & 0xff, f.blueMax) << f.blueShift)) >>>
        0;
      this.#packed.set(rgb, packed);
    }
    return packed;
  }

  /** The pixels of `rect` (already clipped to the surface), row by row. */
  encodeRect(surface: Surface, rect: Rect): Buffer {
    const out = Buffer.alloc(rect.width * rect.height * this.#bytesPerPixel);
    if (this.#native) {
      // Little-endian 0x00RRGGBB in memory is exactly B,G,R,0: copy rows as they are.
      const bytes = new Uint8Array(surface.pixels.buffer, surface.pixels.byteOffset, surface.pixels.byteLength);
      for (let row = 0; row < rect.height; row++) {
        const start = ((rect.y + row) * surface.width + rect.x) * 4;
        out.set(bytes.subarray(start, start + rect.width * 4), row * rect.width * 4);
      }
      return out;
    }
    const { bigEndian } = this.format;
    let offset = 0;
    for (let row = 0; row < rect.height; row++) {
      const start = (rect.y + row) * surface.width + rect.x;
      for (let col = 0; col < rect.width; col++) {
        const value = this.pack(surface.pixels[start + col]!);
        switch (this.#bytesPerPixel) {
          case 1:
            out[offset] = value;
            break;
          case 2:
            if (bigEndian) out.writeUInt16BE(value & 0xffff, offset);
            else out.writeUInt16LE(value & 0xffff, offset);
            break;
          default:
            if (bigEndian) out.writeUInt32BE(value, offset);
            else out.writeUInt32LE(value, offset);
        }
        offset += this.#bytesPerPixel;
      }
    }
    return out;
  }
}
