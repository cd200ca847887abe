// Builds the vendored analytics assets: ECharts and the US states map (pre-projected Albers USA, from us-atlas).
import { readFileSync, writeFileSync, copyFileSync, mkdirSync } from "node:fs";
import { feature } from "topojson-client";
const out = process.argv[2];
const usps = Object.fromEntries(readFileSync(process.argv[3], "utf8").trim().split("\n").slice(1)
  .map((line) => line.split(",")).map((cols) => [cols[0], cols[2]]));
mkdirSync(out, { recursive: true });
copyFileSync("node_modules/echarts/dist/echarts.min.js", `${out}/echarts.min.js`);
copyFileSync("node_modules/echarts/LICENSE", `${out}/echarts.LICENSE.txt`);
const topo = JSON.parse(readFileSync("node_modules/us-atlas/states-albers-10m.json", "utf8"));
const geo = feature(topo, topo.objects.states);
const round = (c) => (typeof c[0] === "number" ? [Math.round(c[0] * 10) / 10, Math.round(c[1] * 10) / 10] : c.map(round));
geo.features = geo.features.map((f) => ({ type: "Feature", id: f.id, properties: { name: usps[f.id] || f.id },
  geometry: { type: f.geometry.type, coordinates: round(f.geometry.coordinates) } }));
writeFileSync(`${out}/us-states-albers.geo.json`, JSON.stringify(geo));
