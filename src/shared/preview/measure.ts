// Lengths and angles of the drawn overlays in millimetres and degrees, from the slice's
// in-plane spacing, beside the values the record states, so a conversion error in a dataset
// shows as a mismatch. Angles are acute, as MedVision's planner computes them
// (deg(arccos(|v1.v2| / (|v1||v2|))), vectors scaled by the spacing). Pure.

import type { Measurement } from '../protocol/samplePreview';
import type { OverlayLine, Overlays, TaskKind } from './overlays';
import { columnar } from './overlays';

/** [row spacing, column spacing] in mm. */
export type Spacing = readonly [number, number];

export function lineLength(line: OverlayLine, [rowMm, colMm]: Spacing): number {
  return Math.hypot((line.y1 - line.y0) * rowMm, (line.x1 - line.x0) * colMm);
}

export function acuteAngle(a: OverlayLine, b: OverlayLine, [rowMm, colMm]: Spacing): number {
  const u = [(a.x1 - a.x0) * colMm, (a.y1 - a.y0) * rowMm] as const;
  const v = [(b.x1 - b.x0) * colMm, (b.y1 - b.y0) * rowMm] as const;
  const cos = Math.abs(u[0] * v[0] + u[1] * v[1]) / (Math.hypot(...u) * Math.hypot(...v));
  return (Math.acos(Math.min(1, cos)) * 180) / Math.PI;
}

const number = (value: unknown): number | undefined => {
  const v = Array.isArray(value) ? value[0] : value;
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
};

const unitOf = (profile: Record<string, unknown>, fallback: string): string => {
  const unit = Array.isArray(profile.metric_unit) ? profile.metric_unit[0] : profile.metric_unit;
  return typeof unit === 'string' && unit.trim() !== '' ? unit.trim() : fallback;
};

/** What the overlays measure on the slice, with the record's values where it states them. */
export function measureOverlays(record: Record<string, unknown>, kind: TaskKind, overlays: Overlays, spacing: Spacing): Measurement[] {
  const profile = (columnar(record.biometric_profile) ?? {}) as Record<string, unknown>;
  const out: Measurement[] = [];
  const optional = (value: number | undefined) => (value === undefined ? {} : { recorded: value });
  if (kind === 'detection') {
    const boxes = columnar(record.bounding_boxes) as Record<string, unknown> | undefined;
    const sizes = Array.isArray(boxes?.sizes) ? (boxes.sizes[0] as unknown) : undefined;
    const [h, w] = Array.isArray(sizes) ? sizes : [];
    for (const box of overlays.boxes) {
      out.push({ label: `${box.label} height`, measured: (box.y1 - box.y0 + 1) * spacing[0], unit: 'mm', ...optional(number(h)) });
      out.push({ label: `${box.label} width`, measured: (box.x1 - box.x0 + 1) * spacing[1], unit: 'mm', ...optional(number(w)) });
    }
  } else if (kind === 'tumor_lesion') {
    const unit = unitOf(profile, 'mm');
    const recorded: Record<string, number | undefined> = { major: number(profile.metric_value_major_axis), minor: number(profile.metric_value_minor_axis) };
    for (const line of overlays.lines) out.push({ label: `${line.label} axis`, measured: lineLength(line, spacing), unit, ...optional(recorded[line.label]) });
  } else if (kind === 'angle_distance') {
    const value = number(profile.metric_value);
    if (profile.metric_type === 'angle' && overlays.lines.length === 2) {
      const [a, b] = overlays.lines as [OverlayLine, OverlayLine];
      out.push({ label: 'angle', measured: acuteAngle(a, b, spacing), unit: unitOf(profile, 'degree'), ...optional(value) });
      for (const line of overlays.lines) out.push({ label: line.label, measured: lineLength(line, spacing), unit: 'mm' });
    } else {
      for (const line of overlays.lines) out.push({ label: line.label, measured: lineLength(line, spacing), unit: unitOf(profile, 'mm'), ...optional(value) });
    }
  } else {
    for (const line of overlays.lines) out.push({ label: line.label || 'line', measured: lineLength(line, spacing), unit: 'mm' });
  }
  return out;
}
