// Money stays exact: API amounts are decimal strings; we add them as BigInt micro-dollars and
// only round for display ("$12.34"); the exact string goes in the title (tooltip).
const MICROS = 1000000n;

export function toMicros(value) {
  if (value === null || value === undefined || value === "") return 0n;
  if (typeof value === "bigint") return value;
  const text = typeof value === "number" ? value.toFixed(6) : String(value).trim();
  const negative = text.startsWith("-");
  const [whole, frac = ""] = text.replace(/^[-+]/, "").split(".");
  const micros = BigInt(whole || "0") * MICROS + BigInt((frac + "000000").slice(0, 6) || "0");
  return negative ? -micros : micros;
}

export function exact(micros) {
  const m = toMicros(micros);
  const sign = m < 0n ? "-" : "";
  const abs = m < 0n ? -m : m;
  return `${sign}${abs / MICROS}.${(abs % MICROS).toString().padStart(6, "0")}`;
}

export function usd(value) {
  const m = toMicros(value);
  const sign = m < 0n ? "-" : "";
  const abs = m < 0n ? -m : m;
  if (abs > 0n && abs < 10000n) {
    // Sub-cent amounts (a single LLM call) keep their significant digits.
    return `${sign}$0.${abs.toString().padStart(6, "0").replace(/0+$/, "")}`;
  }
  const cents = (abs + 5000n) / 10000n;
  const dollars = (cents / 100n).toLocaleString("en-US");
  return `${sign}$${dollars}.${(cents % 100n).toString().padStart(2, "0")}`;
}

export function toNumber(value) {
  return Number(toMicros(value)) / 1e6;
}

export function sum(values) {
  return values.reduce((acc, v) => acc + toMicros(v), 0n);
}

export function ratio(part, whole) {
  const w = toMicros(whole);
  return w === 0n ? 0 : Number(toMicros(part)) / Number(w);
}

export function pct(r, digits = 0) {
  return `${(Number(r) * 100).toFixed(digits)}%`;
}
