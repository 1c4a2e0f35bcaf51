"""A PyMongo client of the proxy, with no encryption of its own (TestProxyRealClients).

Usage: pymongo_client.py URI DB. It writes plaintext through the proxy, reads it back with
equality finds, an update, an aggregation and getMore batches, and tries a query the proxy
refuses; it prints one JSON object with what it saw.
"""
import json
import sys

import pymongo
from pymongo.errors import OperationFailure

uri, dbname = sys.argv[1], sys.argv[2]
client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=10000)
people = client[dbname]["people"]
people.insert_many([{"_id": i, "ssn": "PY-SSN-%03d" % i, "secret": "PY-SECRET-%03d" % i} for i in range(12)])
out = {}
out["found"] = people.find_one({"ssn": "PY-SSN-005"})
people.update_one({"ssn": "PY-SSN-005"}, {"$set": {"secret": "PY-NEW"}})
out["updated"] = people.find_one({"_id": 5})["secret"]
out["aggregated"] = [d["secret"] for d in people.aggregate([{"$match": {"ssn": "PY-SSN-003"}}])]
out["batched"] = [d["ssn"] for d in people.find({}, batch_size=5).sort("_id", 1)]
try:
    people.find_one({"secret": "PY-SECRET-001"})
    out["refused"] = None
except OperationFailure as e:
    out["refused"] = str(e)
print(json.dumps(out))
