interface Props {
  values: number[];
  width?: number;
  height?: number;
  color?: string;
}

/** A tiny SVG line of the last heartbeat round trips (antd has no sparkline). */
export function Sparkline({ values, width = 160, height = 32, color = '#e8590c' }: Props) {
  const vs = values.slice(-60);
  if (vs.length < 2) {
    return <svg width={width} height={height} data-testid="sparkline" aria-hidden />;
  }
  const max = Math.max(...vs);
  const min = Math.min(...vs);
  const span = max - min || 1;
  const step = width / (vs.length - 1);
  const pts = vs.map((v, i) => `${(i * step).toFixed(1)},${(height - 3 - ((v - min) / span) * (height - 6)).toFixed(1)}`);
  return (
    <svg width={width} height={height} data-testid="sparkline" aria-hidden style={{ display: 'block' }}>
      <polyline points={`0,${height} ${pts.join(' ')} ${width},${height}`} fill={color} fillOpacity={0.08} stroke="none" />
      <polyline points={pts.join(' ')} fill="none" stroke={color} strokeWidth={1.5} strokeLinejoin="round" />
    </svg>
  );
}
