"""Class names and human-written class descriptions for the zero-shot rows (no labelled example is used).

Names: arXiv's own category names (its public taxonomy), the 20 newsgroups' names spelled out, "negative" /
"positive" for the movie reviews. Descriptions: a sentence of the topics each class is about, written from
the taxonomy's and the newsgroups' public descriptions (not from the data).
"""

from __future__ import annotations

ARXIV_NAMES = {
    "cs.CV": "Computer Vision and Pattern Recognition",
    "cs.CL": "Computation and Language (natural language processing)",
    "cs.AI": "Artificial Intelligence",
    "cs.LG": "Machine Learning",
    "cs.GR": "Computer Graphics",
    "cs.IT": "Information Theory",
    "cs.RO": "Robotics",
    "cs.GT": "Computer Science and Game Theory",
    "cs.CE": "Computational Engineering, Finance, and Science",
    "cs.HC": "Human-Computer Interaction",
    "cs.IR": "Information Retrieval",
    "cs.SD": "Sound and audio processing",
    "cs.CR": "Cryptography and Security",
    "cs.CY": "Computers and Society",
    "eess.IV": "Image and Video Processing",
    "eess.SY": "Systems and Control",
    "astro-ph.GA": "Astrophysics of Galaxies",
    "astro-ph.CO": "Cosmology and Nongalactic Astrophysics",
    "astro-ph.IM": "Instrumentation and Methods for Astrophysics",
    "astro-ph.HE": "High Energy Astrophysical Phenomena",
    "astro-ph.SR": "Solar and Stellar Astrophysics",
    "astro-ph.EP": "Earth and Planetary Astrophysics",
    "gr-qc": "General Relativity and Quantum Cosmology",
    "hep-ph": "High Energy Physics - Phenomenology",
    "hep-th": "High Energy Physics - Theory",
}

ARXIV_DESCRIPTIONS = {
    "cs.CV": "image recognition, object detection, segmentation, video understanding, 3D reconstruction and "
    "image generation with neural networks",
    "cs.CL": "natural language processing: language models, text generation, machine translation, question "
    "answering, speech and multilingual text",
    "cs.AI": "artificial intelligence: reasoning, planning, autonomous agents, knowledge representation and "
    "large language model agents",
    "cs.LG": "machine learning: training algorithms, optimization, generalization, neural network theory and "
    "reinforcement learning",
    "cs.GR": "computer graphics: rendering, meshes, animation, geometry processing, neural rendering and "
    "gaussian splatting",
    "cs.IT": "information theory: channel capacity, coding, wireless communication, MIMO, signal detection and "
    "rate analysis",
    "cs.RO": "robotics: robot manipulation, motion planning, locomotion, control and navigation",
    "cs.GT": "game theory: mechanism design, auctions, equilibria, markets and incentives",
    "cs.CE": "computational engineering and finance: numerical simulation, finite elements, engineering "
    "design and financial models",
    "cs.HC": "human-computer interaction: user studies, interfaces, visualization and accessibility",
    "cs.IR": "information retrieval: search engines, ranking, recommender systems and retrieval",
    "cs.SD": "sound: audio processing, music, speech synthesis and acoustic signals",
    "cs.CR": "security and cryptography: attacks, privacy, encryption, malware and adversarial robustness",
    "cs.CY": "computers and society: ethics, policy, education and the social impact of technology",
    "eess.IV": "image and video processing: medical imaging, compression, denoising and restoration",
    "eess.SY": "systems and control: controllers, stability, power systems and optimal control",
    "astro-ph.GA": "galaxies: galaxy formation and evolution, star formation, interstellar medium, the Milky "
    "Way and galactic dynamics",
    "astro-ph.CO": "cosmology: dark matter, dark energy, the cosmic microwave background, large-scale "
    "structure and the early universe",
    "astro-ph.IM": "astronomical instrumentation and methods: telescopes, detectors, surveys, data "
    "reduction and calibration",
    "astro-ph.HE": "high-energy astrophysics: black holes, neutron stars, gamma-ray bursts, X-rays, cosmic "
    "rays and supernovae",
    "astro-ph.SR": "solar and stellar physics: the Sun, stars, stellar evolution, binaries and asteroseismology",
    "astro-ph.EP": "planetary science: exoplanets, planet formation, the solar system, asteroids and "
    "protoplanetary disks",
    "gr-qc": "general relativity: gravitational waves, black hole spacetimes, modified gravity and quantum gravity",
    "hep-ph": "particle physics phenomenology: the standard model, colliders, neutrinos, quarks, dark matter particles",
    "hep-th": "theoretical high energy physics: string theory, quantum field theory, holography and supersymmetry",
}

NG_NAMES = {
    "alt.atheism": "atheism",
    "comp.graphics": "computer graphics",
    "comp.os.ms-windows.misc": "Microsoft Windows",
    "comp.sys.ibm.pc.hardware": "IBM PC hardware",
    "comp.sys.mac.hardware": "Apple Mac hardware",
    "comp.windows.x": "the X Window System",
    "misc.forsale": "things for sale",
    "rec.autos": "cars",
    "rec.motorcycles": "motorcycles",
    "rec.sport.baseball": "baseball",
    "rec.sport.hockey": "hockey",
    "sci.crypt": "cryptography",
    "sci.electronics": "electronics",
    "sci.med": "medicine",
    "sci.space": "space",
    "soc.religion.christian": "Christianity",
    "talk.politics.guns": "guns",
    "talk.politics.mideast": "the Middle East",
    "talk.politics.misc": "politics",
    "talk.religion.misc": "religion",
}

NG_DESCRIPTIONS = {
    "alt.atheism": "atheism, atheists, god does not exist, belief, religion, bible, morality, evidence",
    "comp.graphics": "computer graphics, images, image formats, 3d rendering, polygons, jpeg, gif, software",
    "comp.os.ms-windows.misc": "microsoft windows, dos, win3.1, drivers, files, programs, windows software",
    "comp.sys.ibm.pc.hardware": "pc hardware, ide, scsi, hard drive, controller, motherboard, bios, card",
    "comp.sys.mac.hardware": "apple macintosh hardware, mac, powerbook, quadra, centris, monitor, simm",
    "comp.windows.x": "x window system, x11, motif, xterm, widget, server, client, display",
    "misc.forsale": "for sale, sell, price, offer, shipping, condition, brand new, asking",
    "rec.autos": "cars, automobiles, engine, driving, dealer, ford, toyota, tires",
    "rec.motorcycles": "motorcycles, bikes, riding, helmet, honda, harley, bmw, ride",
    "rec.sport.baseball": "baseball, pitcher, hitting, season, runs, innings, players, league",
    "rec.sport.hockey": "hockey, nhl, goalie, playoffs, team, game, puck, season",
    "sci.crypt": "cryptography, encryption, clipper chip, keys, nsa, security, privacy, pgp",
    "sci.electronics": "electronics, circuits, voltage, power supply, amplifier, components, wire",
    "sci.med": "medicine, doctors, disease, patients, treatment, symptoms, health, drugs",
    "sci.space": "space, nasa, orbit, shuttle, launch, moon, satellites, spacecraft",
    "soc.religion.christian": "christianity, christians, jesus, church, faith, god, bible, prayer",
    "talk.politics.guns": "guns, firearms, weapons, second amendment, gun control, nra, shooting",
    "talk.politics.mideast": "middle east politics, israel, arabs, palestinians, jews, turkey, armenians",
    "talk.politics.misc": "politics, government, president clinton, taxes, laws, policy, rights",
    "talk.religion.misc": "religion, morality, christian beliefs, cults, god, bible",
}

MOVIE_NAMES = {"0": "negative", "1": "positive"}

MOVIE_DESCRIPTIONS = {
    "0": ["a negative movie review", "the film was bad, boring and disappointing"],
    "1": ["a positive movie review", "the film was good, moving and enjoyable"],
}
