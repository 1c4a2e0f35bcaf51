// The Node.js driver (npm mongodb, no encryption of its own) as a client of the proxy
// (TestProxyNode). Usage: node client.mjs URI DB. It writes plaintext through the proxy, reads
// it back with finds, an update, an aggregation and getMore batches, tries a query the proxy
// refuses, and prints one JSON object with what it saw.
import { MongoClient } from "mongodb";

const [uri, dbName] = process.argv.slice(2);
const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10000 });
try {
  const people = client.db(dbName).collection("people");
  const docs = [];
  for (let i = 0; i < 12; i++) {
    const n = String(i).padStart(3, "0");
    docs.push({ _id: i, ssn: `NODE-SSN-${n}`, secret: `NODE-SECRET-${n}` });
  }
  await people.insertMany(docs);
  const out = {};
  out.found = await people.findOne({ ssn: "NODE-SSN-005" });
  await people.updateOne({ ssn: "NODE-SSN-005" }, { $set: { secret: "NODE-NEW" } });
  out.updated = (await people.findOne({ _id: 5 })).secret;
  out.aggregated = (await people.aggregate([{ $match: { ssn: "NODE-SSN-003" } }]).toArray()).map((d) => d.secret);
  out.batched = (await people.find({}, { batchSize: 5 }).sort({ _id: 1 }).toArray()).map((d) => d.ssn);
  try {
    await people.findOne({ secret: "NODE-SECRET-001" });
    out.refused = null;
  } catch (e) {
    out.refused = String(e.message);
  }
  console.log(JSON.stringify(out));
} finally {
  await client.close();
}
