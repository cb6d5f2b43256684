"""Stage: stored articles -> passages -> vectors -> hits for a question. passages.py cuts
articles into passages; embed.py embeds them (sentence-transformers, or ONNX fp32/int8); vectors.py
(with vectorsync.py, vectorfile.py and compression.py) keeps the FAISS index of the embedded
engine; search.py fuses BM25 and dense retrieval."""
