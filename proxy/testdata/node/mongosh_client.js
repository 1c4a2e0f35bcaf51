// mongosh as a client of the proxy (TestProxyRealClients): run as
// mongosh --quiet "mongodb://PROXY/DB?directConnection=true" mongosh_client.js. It writes
// plaintext through the proxy, reads it back with finds, an update, an aggregation and getMore
// batches, tries a query the proxy refuses, and prints one JSON object with what it saw.
const people = db.people;
const docs = [];
for (let i = 0; i < 12; i++) {
  const n = String(i).padStart(3, "0");
  docs.push({ _id: i, ssn: `SH-SSN-${n}`, secret: `SH-SECRET-${n}` });
}
people.insertMany(docs);
const out = {};
out.found = people.findOne({ ssn: "SH-SSN-005" });
people.updateOne({ ssn: "SH-SSN-005" }, { $set: { secret: "SH-NEW" } });
out.updated = people.findOne({ _id: 5 }).secret;
out.aggregated = people.aggregate([{ $match: { ssn: "SH-SSN-003" } }]).toArray().map((d) => d.secret);
out.batched = people.find({}).batchSize(5).sort({ _id: 1 }).toArray().map((d) => d.ssn);
try {
  people.findOne({ secret: "SH-SECRET-001" });
  out.refused = null;
} catch (e) {
  out.refused = String(e.message);
}
print(JSON.stringify(out));
